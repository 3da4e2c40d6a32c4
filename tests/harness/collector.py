"""A collector for tests: a second auditd that takes no local events and
receives other hosts' records over TCP (auditd's remote logging), and
audisp-remote senders, all on this machine.

    with running_collector(tmp_path, port, plugins={"audisp-eql": dropin}) as c:
        ... senders connect to 127.0.0.1:port; c.stop(); c.start() ...

The collector auditd (`local_events = no`) never registers with the kernel
(auditd 3.0.9 calls audit_set_pid only with local events; checked here:
the kernel's audit pid is unchanged while it runs), so it runs beside the
kernel's auditd of harness/auditd.py. It runs in a private mount namespace
with its own /run: auditd 3.0.9 writes /var/run/auditd.pid unconditionally,
and must not overwrite (nor, on exit, remove) the host auditd's. It listens
on `port` (auditd binds every address; the senders use 127.0.0.1 only),
accepts up to 8 connections per address, no libwrap, and hands network
events to its plugins (`distribute_network = yes`).

audisp-remote reads its configuration from the fixed path
/etc/audit/audisp-remote.conf; each sender here runs in a private mount
namespace where a file of the test is bound over that path, so the
machine's own file is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Optional

from .auditd import AUDITD, audit_status, private_dir, write_plugins
from .procs import stop_process, tail, wait_for

AUDISP_REMOTE = shutil.which("audisp-remote") or "/sbin/audisp-remote"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
REMOTE_CONF_PATH = "/etc/audit/audisp-remote.conf"

_COLLECTOR_CONF = """\
local_events = no
write_logs = no
log_file = {directory}/audit.log
log_format = RAW
flush = NONE
freq = 0
num_logs = 2
max_log_file = 8
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
verify_email = no
action_mail_acct = root
name_format = NONE
tcp_listen_port = {port}
tcp_listen_queue = 5
tcp_max_per_addr = 8
use_libwrap = no
tcp_client_ports = 1024-65535
tcp_client_max_idle = 0
distribute_network = yes
q_depth = 20000
overflow_action = SYSLOG
max_restarts = 3
plugin_dir = {plugins}
end_of_event_timeout = 2
"""

# A sender that keeps what it cannot deliver (warn_once: "the event is not
# dequeued") and reconnects on the next record after the collector went away.
_REMOTE_CONF = """\
remote_server = 127.0.0.1
port = {port}
transport = tcp
queue_file = {queue}
mode = immediate
queue_depth = 20000
format = managed
network_retry_time = 1
max_tries_per_record = 3
max_time_per_record = 5
heartbeat_timeout = 0
network_failure_action = warn_once
disk_low_action = ignore
disk_full_action = warn_once
disk_error_action = warn_once
remote_ending_action = reconnect
generic_error_action = syslog
generic_warning_action = syslog
queue_error_action = stop
overflow_action = syslog
startup_failure_action = warn_once_continue
"""


def unavailable_reason() -> Optional[str]:
    """Why a collector cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "a collector auditd needs root"
    for program, package in ((AUDITD, "auditd"), (AUDISP_REMOTE, "audispd-plugins"),
                             (UNSHARE, "util-linux")):
        if not Path(program).exists():
            return f"{program} is missing (package {package}; tools/bootstrap.sh installs it)"
    if not Path(REMOTE_CONF_PATH).exists():
        return f"{REMOTE_CONF_PATH} is missing (audispd-plugins installs it; bound over per sender)"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_remote_conf(path: Path, port: int) -> Path:
    path.write_text(_REMOTE_CONF.format(port=port, queue=path.with_suffix(".queue")))
    os.chmod(path, 0o640)
    return path


def sender_command(conf: Path) -> list[str]:
    """audisp-remote with `conf` bound over its fixed configuration path, in a
    private mount namespace (exec'd: the PID is audisp-remote's)."""
    script = f'mount --bind "$1" {REMOTE_CONF_PATH} && exec {AUDISP_REMOTE}'
    return [UNSHARE, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
            str(conf)]


def sender_wrapper(directory: Path, conf: Path) -> Path:
    """A program auditd can start as a plugin that runs `sender_command(conf)`."""
    wrapper = directory / "audisp-remote-private.sh"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in
                                                     sender_command(conf)) + "\n")
    os.chmod(wrapper, 0o750)
    return wrapper


def record_plugin(directory: Path, out: Path) -> str:
    """A plugins.d drop-in that appends every record auditd dispatches to `out`."""
    script = directory / f"record-{out.stem}.sh"
    script.write_text(f"#!/bin/sh\nexec /bin/cat >> '{out}'\n")
    os.chmod(script, 0o750)
    return f"active = yes\ndirection = out\npath = {script}\ntype = always\nformat = string\n"


@dataclass
class Collector:
    directory: Path
    port: int
    proc: Optional[subprocess.Popen] = None
    starts: int = 0
    _stderr: list = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> None:
        """Start the collector auditd and wait until it listens."""
        self.starts += 1
        stderr = open(self.directory / f"auditd.stderr.{self.starts}", "wb")
        self._stderr.append(stderr)
        kernel_pid = audit_status().get("pid")
        script = (f'mount -t tmpfs -o mode=0755 tmpfs /run && exec {AUDITD} -f -n '
                  f'-c "$1"')
        self.proc = subprocess.Popen(
            [UNSHARE, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
             str(self.directory)], stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
            start_new_session=True)
        if not wait_for(lambda: self.proc.poll() is not None or self.listening(), timeout, 0.1) \
                or self.proc.poll() is not None:
            raise RuntimeError(f"collector auditd did not start (exit {self.proc.poll()}):\n"
                               f"{self.stderr_text()}")
        # local_events = no: the kernel's audit daemon is still the host's.
        assert audit_status().get("pid") == kernel_pid, "the collector took the kernel's audit pid"

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True   # auditd logs the accept and the close; harmless
        except OSError:
            return False

    def stop(self) -> Optional[int]:
        """Stop the collector (SIGTERM by PID: it stops its plugins); safe to repeat."""
        if self.proc is None:
            return None
        return stop_process(self.proc, timeout=15)

    def stderr_text(self) -> str:
        return tail(self.directory / f"auditd.stderr.{self.starts}", 6000)

    def close(self) -> None:
        self.stop()
        for handle in self._stderr:
            handle.close()


@contextlib.contextmanager
def running_collector(directory: Path, port: int,
                      plugins: Mapping[str, str] | None = None) -> Iterator[Collector]:
    """A collector auditd on `port` with `plugins` ({name: drop-in}); stopped by PID at the end."""
    directory = directory / "collector"
    plugin_dir = directory / "plugins.d"
    private_dir(directory)
    private_dir(plugin_dir)
    conf = directory / "auditd.conf"
    conf.write_text(_COLLECTOR_CONF.format(directory=directory, port=port, plugins=plugin_dir))
    os.chmod(conf, 0o640)
    write_plugins(plugin_dir, plugins)
    collector = Collector(directory, port)
    try:
        collector.start()
        yield collector
    finally:
        collector.close()
