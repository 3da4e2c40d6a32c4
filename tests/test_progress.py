"""Progress (tqdm: bytes, percent, ETA) on a terminal for `scan` and `report`:
on stderr only, never inside an alert line, never when stderr is not a
terminal or with --quiet. AUDISP_EQL_PROGRESS_DELAY=0 shows it at once (it
waits a second otherwise, so that short runs print nothing extra)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time

from conftest import LOGS, ROOT

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")
DEB = LOGS / "debian12-auditd" / "accounts-logins-files-network.log"
ENV = {**os.environ, "AUDISP_EQL_PROGRESS_DELAY": "0", "COLUMNS": "120"}
BAR = re.compile(r"\d+%\|.*B/s")     # "37%|████      | 128k/350k [00:01<00:02, 99.1kB/s]"


def run_with_terminal(argv: list[str], stdout_too: bool) -> tuple[bytes, bytes, int]:
    """(terminal bytes, piped stdout bytes, exit status): stderr on a pseudo-terminal,
    stdout on the same terminal or a pipe."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=slave, env=ENV,
                            stdout=slave if stdout_too else subprocess.PIPE)
    os.close(slave)
    piped = bytearray()
    reader = None
    if proc.stdout is not None:     # drained alongside, or a full pipe would block it
        import threading
        reader = threading.Thread(target=lambda: piped.extend(proc.stdout.read()), daemon=True)
        reader.start()
    seen = bytearray()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(30)
    if reader is not None:
        reader.join(30)
    return bytes(seen), bytes(piped), code


def displayed_lines(blob: bytes) -> list[str]:
    """What a terminal shows of each line: the text after its last carriage return."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", blob.decode("utf-8", "replace"))
    return [line.rstrip("\r").split("\r")[-1] for line in text.split("\n")]


def test_scan_progress_on_stderr_alerts_intact_on_stdout(shared):
    terminal, piped, code = run_with_terminal(
        [TOOL, "scan", "--format", "json", "--rules", str(ROOT / "rules"), str(DEB)],
        stdout_too=False)
    assert code == 1   # rules alerted (exitstatus.FOUND)
    assert BAR.search(terminal.decode()) and b"logins-files-network.log" in terminal
    alerts = [json.loads(line) for line in piped.decode().splitlines()]
    assert len(alerts) > 20 and not BAR.search(piped.decode())


def test_scan_progress_stays_out_of_alert_lines_on_a_shared_terminal(shared):
    terminal, _, code = run_with_terminal(
        [TOOL, "scan", "--format", "text", "--rules", str(ROOT / "rules"), str(DEB)],
        stdout_too=True)
    assert code == 1   # rules alerted (exitstatus.FOUND)
    lines = displayed_lines(terminal)
    assert BAR.search(terminal.decode())
    alert_lines = [line for line in lines if "event.id=" in line or "args:" in line]
    assert len(alert_lines) > 20
    assert [line for line in alert_lines if BAR.search(line)] == []


def test_report_progress_and_quiet(shared, tmp_path):
    out = tmp_path / "r.json"
    argv = [TOOL, "report", "--format", "json", "-o", str(out), "--rules", str(ROOT / "rules"),
            "--controls", str(ROOT / "controls"), str(DEB)]
    terminal, _, code = run_with_terminal(argv, stdout_too=False)
    assert code == 0 and json.loads(out.read_text())["findings_total"] > 0
    assert BAR.search(terminal.decode())
    quiet, _, code = run_with_terminal(argv + ["--quiet"], stdout_too=False)
    assert code == 0 and quiet == b""
    piped = subprocess.run(argv, capture_output=True, env=ENV, timeout=300)
    assert piped.returncode == 0 and not BAR.search(piped.stderr.decode())
