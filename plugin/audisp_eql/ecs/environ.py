"""process.env_vars: chosen variables of a new process's environment, read
from /proc/PID/environ when its exec event arrives (the plugin only: the
records never carry the environment).

What /proc shows is the environment the exec passed (later setenv calls in
the process do not change it). The read is trusted only while the pid still
runs the executable of the event and started no later than the event (a
second's slack: /proc gives the boot time in whole seconds); a process that
is already gone, or that exec'd another program, gets no env_vars; nor does
the event of a process that started more than limits.MAX_ENVIRON_EVENT_AGE
seconds ago (a plugin far behind, or old records piped in). Names
are matched without regard to case (rules compare them with like~); a name
ending in `*` is a prefix, one starting with `*` a suffix. Reading needs root (ptrace-read access); at most
limits.MAX_ENVIRON_BYTES of the block are read and limits.MAX_ENV_VARS
entries kept.
"""

from __future__ import annotations

import os
import time
from typing import Optional, Sequence

from .. import limits


class EnvironReader:
    def __init__(self, names: Sequence[str], proc_root: str = "/proc") -> None:
        self._exact = frozenset(n.upper().encode() for n in names if "*" not in (n[:1], n[-1:]))
        self._prefixes = tuple(n[:-1].upper().encode() for n in names if n.endswith("*"))
        self._suffixes = tuple(n[1:].upper().encode() for n in names
                               if n.startswith("*") and not n.endswith("*"))
        self._proc = proc_root
        self._boot: Optional[float] = None
        self._ticks = os.sysconf("SC_CLK_TCK")

    def _boot_time(self) -> float:
        if self._boot is None:
            self._boot = 0.0
            try:
                with open(os.path.join(self._proc, "stat"), "rb") as f:
                    for line in f:
                        if line.startswith(b"btime "):
                            self._boot = float(line.split()[1])
            except (OSError, ValueError, IndexError):
                pass
        return self._boot

    def wanted(self, name: bytes) -> bool:
        upper = name.upper()
        return upper in self._exact or upper.startswith(self._prefixes) or \
            upper.endswith(self._suffixes)

    def read(self, pid: int, executable: Optional[str], event_time: float) -> Optional[list[str]]:
        """`NAME=value` entries of the wanted variables, None when none or unknown."""
        if not executable or time.time() - event_time > limits.MAX_ENVIRON_EVENT_AGE:
            return None       # an old event: its process is most likely gone (or the pid reused)
        base = f"{self._proc}/{pid}"
        try:
            if os.readlink(base + "/exe") != executable:
                return None
            with open(base + "/stat", "rb") as f:
                stat = f.read()
            start_ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
            if self._boot_time() + start_ticks / self._ticks > event_time + 1.0:
                return None
            with open(base + "/environ", "rb") as f:
                block = f.read(limits.MAX_ENVIRON_BYTES)
        except (OSError, ValueError, IndexError):
            return None
        entries = block.split(b"\0")
        if len(block) >= limits.MAX_ENVIRON_BYTES:
            entries.pop()          # possibly cut by the bound
        found: list[str] = []
        for entry in entries:
            name, sep, _value = entry.partition(b"=")
            if sep and self.wanted(name):
                found.append(entry.decode("utf-8", "backslashreplace"))
                if len(found) >= limits.MAX_ENV_VARS:
                    break
        return found or None
