"""A quiet host's stream without auditd: exec events paced into `audisp-eql plugin`
one record per write on a unix stream socket (as auditd writes to a plugin), at
RATE events/s for SECONDS, after IDLE seconds of nothing; prints the plugin's
CPU (utime+stime, /proc/PID/stat) idle and per event. Corpus rules and rules/
are loaded as the plugin loads them. A profiler can wrap the plugin:

    python -m bench.paced 300 20 10
    python -m bench.paced 300 20 0 strace -c -f -o /tmp/strace.txt --
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .live_peers import STATUS_INTERVAL, cpu_seconds
from .ours import plugin_argv, write_plugin_config
from .workloads import write_stream

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 40_000   # distinct events of the plain stream, sent round and round


def events_of(log: Path) -> list[list[bytes]]:
    """The log's records grouped by event id, in order."""
    events: list[list[bytes]] = []
    last = b""
    for line in log.read_bytes().splitlines(keepends=True):
        start = line.find(b"msg=audit(")
        ident = line[start:line.find(b")", start)]
        if ident != last or not events:
            events.append([])
            last = ident
        events[-1].append(line)
    return events


def settle(pid: int, still: float = 2.0) -> None:
    last, since = -1.0, time.monotonic()
    while time.monotonic() - since < still:
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("rate", type=float)
    p.add_argument("seconds", type=float)
    p.add_argument("idle", type=float)
    p.add_argument("wrapper", nargs=argparse.REMAINDER, help="a command the plugin runs under")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="audisp-eql-paced-") as tmp:
        work = Path(tmp)
        log = work / "plain.log"
        with open(log, "wb") as f:
            write_stream(args.shared, "plain", EVENTS, 1, f)
        events = events_of(log)
        config = write_plugin_config(work, [args.shared / "corpus" / "detection-rules",
                                            ROOT / "rules"], work / "alerts.jsonl",
                                     parent_from_proc=True)
        config.write_text(config.read_text().replace(
            "status_interval = 0", f"status_interval = {STATUS_INTERVAL:g}"))
        ours, theirs = socket.socketpair()
        with open(work / "stderr", "wb") as err:
            proc = subprocess.Popen(args.wrapper + plugin_argv(config), stdin=theirs, stderr=err)
        theirs.close()
        pid = proc.pid
        if args.wrapper:   # the plugin is the wrapper's child
            time.sleep(1.0)
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            pid = int(children[0]) if children else pid
        settle(pid)
        if args.idle:
            before = cpu_seconds(pid)
            time.sleep(args.idle)
            print(f"idle {args.idle:.0f} s: {100 * (cpu_seconds(pid) - before) / args.idle:.3f}% "
                  "of a core")
        count = int(args.rate * args.seconds)
        before, start = cpu_seconds(pid), time.monotonic()
        for i in range(count):
            wait = start + i / args.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            for record in events[i % len(events)]:
                ours.send(record)
        time.sleep(3)   # the last gathers and the drain
        spent = cpu_seconds(pid) - before
        print(f"{args.rate:g} events/s for {args.seconds:g} s: {count} events, CPU {spent:.2f} s, "
              f"{1e6 * spent / max(count, 1):.0f} us per event")
        ours.close()
        proc.wait(timeout=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
