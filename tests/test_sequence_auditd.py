"""A corpus sequence under a real auditd: real commands run by this test make
Elastic's "Multi-Base64 Decoding Attempt from Suspicious Location" fire (two
`base64 -d` started by one shell within 3 s, in a directory under /tmp), and
the alert's kibana.alert.ancestors name the real events: each id is found by
`ausearch --event` in the records the test's auditd wrote, as that base64 exec."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List

import pytest

from conftest import CORPUS, ROOT
from harness.auditd import EXEC_RULES, running_auditd, unavailable_reason
from harness.logsocket import DatagramLog
from harness.plugin_config import dropin_text, write_plugin_config
from harness.procs import wait_for

PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"
RULE = CORPUS / "rules" / "linux" / "defense_evasion_multi_base64_decoding_attempt.toml"
RULE_ID = "03d856c2-7f74-4540-a530-e20af5e39789"   # in that file


def _alerts(path: Path) -> List[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.skipif(unavailable_reason(False) is not None, reason=str(unavailable_reason(False)))
def test_corpus_sequence_fires_from_real_commands(tmp_path: Path) -> None:
    if shutil.which("ausearch") is None or shutil.which("base64") is None:
        pytest.skip("ausearch and base64 are needed (auditd and coreutils)")
    workdir = Path(tempfile.mkdtemp(prefix="audisp-eql-seq-", dir="/tmp"))
    log = DatagramLog(tmp_path / "log.sock")
    syslog = log.text

    alerts_path = tmp_path / "alerts.json"
    config = write_plugin_config(tmp_path, [RULE], alerts_path, syslog_socket=tmp_path / "log.sock",
                                 config_mode=0o644)

    def ours() -> List[dict]:
        return [a for a in _alerts(alerts_path)
                if a.get("process", {}).get("working_directory") == str(workdir)]

    try:
        with running_auditd(tmp_path, plugins={"audisp-eql": dropin_text(PROGRAM, config)}) as ad:
            assert wait_for(lambda: "started: 1 rules" in syslog(), 30), ad.stderr_text()
            ad.add_rules(EXEC_RULES)
            # One shell, two decodes: the shell forks a child for each pipeline
            # and each child runs base64, so both have the shell as parent.
            subprocess.run(["/bin/sh", "-c", "echo aGkK | base64 -d; echo aGkK | base64 --decode"],
                           cwd=workdir, stdout=subprocess.DEVNULL, timeout=20, check=True)
            assert wait_for(lambda: len(ours()) >= 1, 20), (syslog(), _alerts(alerts_path))
            # A near miss right after: one decode in another shell starts a
            # sequence that nothing completes.
            subprocess.run(["/bin/sh", "-c", "echo aGkK | base64 -d"], cwd=workdir,
                           stdout=subprocess.DEVNULL, timeout=20, check=True)
            assert ad.stop() == 0
        [alert] = ours()
        assert alert["rule"]["uuid"] == RULE_ID
        ids = [a["id"] for a in alert["kibana"]["alert"]["ancestors"]]
        assert len(ids) == 2 and ids[-1] == alert["event"]["id"]
        events = alert["audisp_eql"]["events"]
        assert [e["event"]["id"] for e in events] == ids
        assert events[0]["process"]["parent"]["pid"] == events[1]["process"]["parent"]["pid"]
        for ident, brief in zip(ids, events):
            serial = ident.rsplit(":", 1)[1]
            found = subprocess.run(["ausearch", "--input", str(ad.records_path), "--event", serial,
                                    "--raw"], capture_output=True, text=True, timeout=30)
            records = [r for r in found.stdout.splitlines() if f"msg=audit({ident})" in r]
            syscall = [r for r in records if r.startswith("type=SYSCALL")]
            assert len(syscall) == 1, found.stdout + found.stderr
            assert f"pid={brief['process']['pid']} " in syscall[0]
            assert 'exe="/usr/bin/base64"' in syscall[0]
            assert any(r.startswith("type=EXECVE") and "base64" in r for r in records)
    finally:
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
