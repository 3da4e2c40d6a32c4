"""`audisp-eql scan`: audit logs and ECS documents in, alerts and a summary out."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

from conftest import ROOT, SEED

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")
DATA = ROOT / "tests" / "data" / "rules"


def scan(*args: str, stdin: bytes | None = None) -> tuple[list[dict], str, int]:
    result = subprocess.run([TOOL, "scan", "--format", "json", *args], input=stdin,
                            capture_output=True)
    alerts = [json.loads(line) for line in result.stdout.decode().splitlines()]
    return alerts, result.stderr.decode(), result.returncode


def audit_ids(log: Path) -> list[str]:
    out = subprocess.run([TOOL, "events", str(log)], capture_output=True, check=True).stdout
    return [json.loads(line)["event"]["id"] for line in out.decode().splitlines()]


def test_seed_rule_fires_on_nc_and_socat_unix_clients(shared):
    log = DATA / "seed_unix_socket.hit.log"
    alerts, err, status = scan("--rules", str(SEED), str(log))
    assert status == 1   # ran and alerted
    assert [a["process"]["args"][:2] for a in alerts] == [["nc", "-U"], ["socat", "-"]]
    assert [a["event"]["id"] for a in alerts] == audit_ids(log)
    assert {a["rule"]["uuid"] for a in alerts} == {"41284ba3-ed1a-4598-bfba-a97f75d9aba2"}
    assert all(a["event"]["kind"] == "alert" for a in alerts)
    assert "2 alerts" in err and "Execution 2" in err


def test_seed_rule_is_silent_on_its_near_misses(shared):
    alerts, err, status = scan("--rules", str(SEED), str(DATA / "seed_unix_socket.miss.log"))
    assert (alerts, status) == ([], 0)
    assert "4 events" in err


def test_rotated_gzip_set_and_stdin(tmp_path: Path, shared):
    hit = (DATA / "seed_unix_socket.hit.log").read_bytes()
    records = hit.splitlines(keepends=True)
    half = len(records) // 2  # the first event in the older, compressed file
    (tmp_path / "audit.log.1").write_bytes(gzip.compress(b"".join(records[:half])))
    (tmp_path / "audit.log").write_bytes(b"".join(records[half:]))
    alerts, _, status = scan("--rules", str(SEED), str(tmp_path / "audit.log"),
                             str(tmp_path / "audit.log.1"))
    assert status == 1 and len(alerts) == 2
    alerts, _, _ = scan("--rules", str(SEED), "-", stdin=hit)
    assert len(alerts) == 2


def test_unreadable_file_is_reported_and_the_rest_scanned(tmp_path: Path, shared):
    alerts, err, status = scan("--rules", str(SEED), str(tmp_path / "missing.log"),
                               str(DATA / "seed_unix_socket.hit.log"))
    assert status == 2   # an error, even with alerts (printed all the same) and len(alerts) == 2
    assert "missing.log: cannot read" in err


def test_malformed_lines_are_counted_with_file_and_line(tmp_path: Path, shared):
    log = tmp_path / "mixed.log"
    log.write_bytes(b"garbage line\n" + (DATA / "seed_unix_socket.hit.log").read_bytes())
    alerts, err, _ = scan("--rules", str(SEED), str(log))
    assert len(alerts) == 2
    assert f"{log}:1:" in err and "parse errors: 1" in err


def test_ecs_input_dotted_source_wrapped_numeric_ids(tmp_path: Path, shared):
    docs = [
        {"_index": "auditbeat", "_source": {
            "@timestamp": "2024-01-01T00:00:00Z", "event.id": "es-1",
            "event.category": ["process"], "event.type": ["start"], "event.action": "exec",
            "host.os.type": "linux", "process.name": "nc",
            "process.args": ["nc", "-U", "/var/run/x.sock"], "user": {"id": 0}}},
        {"event": {"id": "es-2", "category": "process", "type": "start", "action": "executed"},
         "host": {"os": {"type": "linux"}}, "process": {"name": "socat",
                                                         "args": ["socat", "-", "UNIX-CLIENT:/run/y"]}},
        {"event": {"id": "es-3", "category": ["process"], "type": ["start"], "action": "exec"},
         "host": {"os": {"type": "linux"}}, "process": {"name": "ls", "args": ["ls"]}},
    ]
    path = tmp_path / "docs.json"
    path.write_text("\n".join(json.dumps(d) for d in docs[:2]) + "\nnot json\n"
                    + json.dumps(docs[2]) + "\n")
    alerts, err, status = scan("--input", "ecs", "--rules", str(SEED), str(path))
    assert [a["event"]["id"] for a in alerts] == ["es-1", "es-2"]
    assert alerts[0]["user"]["id"] == "0"  # numeric keyword id became a string
    assert alerts[0]["process"]["name"] == "nc"  # dotted keys nested
    assert f"{path}:3: not JSON" in err and "3 events" in err
    assert status == 1


def _seed_hits() -> list[dict]:
    """Search hits as Elasticsearch returns them: one `_source` hit, one hit
    with only `fields` (dotted names, every value a list), one near miss."""
    return [
        {"_index": "logs-endpoint", "_id": "a", "_source": {
            "event": {"id": "hit-1", "category": ["process"], "type": ["start"], "action": "exec"},
            "host": {"os": {"type": "linux"}}, "process": {"name": "nc",
                                                            "args": ["nc", "-U", "/run/a.sock"]}}},
        {"_index": "logs-endpoint", "_id": "b", "fields": {
            "event.id": ["hit-2"], "event.category": ["process"], "event.type": ["start"],
            "event.action": ["exec"], "host.os.type": ["linux"], "process.name": ["socat"],
            "process.args": ["socat", "-", "UNIX-CLIENT:/run/b"]}},
        {"_index": "logs-endpoint", "_id": "c", "_source": {
            "event": {"id": "miss-3", "category": ["process"], "type": ["start"], "action": "exec"},
            "host": {"os": {"type": "linux"}}, "process": {"name": "ls", "args": ["ls"]}}},
    ]


def test_ecs_input_search_responses_arrays_and_pretty_printed_exports(tmp_path: Path, shared):
    """What people save from Elasticsearch: a whole search (or EQL search)
    response on one line, a JSON array of hits, and the same pretty-printed
    over many lines; each hit is one document, nothing is reported as bad."""
    hits = _seed_hits()
    search = {"took": 3, "hits": {"total": {"value": 3}, "hits": hits}}
    eql_search = {"is_partial": False, "hits": {"events": hits}}
    inputs = {
        "search.json": json.dumps(search) + "\n",
        "eql.json": json.dumps(eql_search) + "\n",
        "array.json": json.dumps(hits) + "\n",
        "pretty.json": json.dumps(search, indent=2) + "\n",
        "pretty-crlf.json": json.dumps(hits, indent=2).replace("\n", "\r\n"),
        "jq-stream.json": "".join(json.dumps(h, indent=2) + "\n" for h in hits),
    }
    for name, text in inputs.items():
        path = tmp_path / name
        path.write_text(text)
        alerts, err, status = scan("--input", "ecs", "--rules", str(SEED), str(path))
        assert [a["event"]["id"] for a in alerts] == ["hit-1", "hit-2"], (name, err)
        assert "3 events" in err and "parse errors: 0" in err, (name, err)
        assert status == 1


def test_ecs_input_unclosed_pretty_value_loses_no_following_line(tmp_path: Path, shared):
    """A lone `{` line that never closes is one error; the JSON lines after it
    are still read as documents."""
    hits = _seed_hits()
    path = tmp_path / "broken.json"
    path.write_text("{\n" + "\n".join(json.dumps(h) for h in hits) + "\n")
    alerts, err, status = scan("--input", "ecs", "--rules", str(SEED), str(path))
    assert [a["event"]["id"] for a in alerts] == ["hit-1", "hit-2"], err
    assert f"{path}:1:" in err and "3 events" in err and "parse errors: 1" in err


def test_a_missing_rule_directory_is_named(tmp_path: Path, shared):
    """`--rules typo/ audit.log`: --rules takes one path, so `typo/` is the rule
    path that is missing (named), and audit.log stays an input."""
    alerts, err, status = scan("--rules", str(tmp_path / "typo"),
                               str(DATA / "seed_unix_socket.hit.log"))
    assert (alerts, status) == ([], 2)
    assert f"rule not loaded: {tmp_path / 'typo'}: cannot read" in err
    assert "no rules to run" in err


def test_tags_select_compliance_rules():
    alerts, err, _ = scan("--tags", "compliance", "--rules", str(ROOT / "rules"),
                          str(ROOT / "examples" / "intrusion.log"))
    names = {a["rule"]["name"] for a in alerts}
    assert "Audit Rules Deleted or Auditing Disabled with auditctl" in names
    assert "Shell Started by a Web Server Process" not in names  # a threat rule, not compliance
    assert alerts and all("Shadow" not in n for n in names)


def test_text_alerts_escape_hostile_arguments():
    from audisp_eql.summary import render_alert

    alert = {"@timestamp": "t", "rule": {"name": "R"}, "kibana": {"alert": {"severity": "high"}},
             "process": {"args": ["sh", "-c", "x\n\x1b[2Jforged line"], "executable": "/bin/\x07sh"},
             "event": {"id": "1.2:3"}}
    text = render_alert(alert)
    assert "\x1b" not in text and "\x07" not in text
    assert "x\\n\\x1b[2Jforged line" in text and "/bin/\\x07sh" in text
    assert len(text.splitlines()) == 4


def test_demo_intrusion_alerts_across_the_kill_chain():
    alerts, err, status = scan("--rules", str(ROOT / "rules"), str(ROOT / "examples" / "intrusion.log"))
    assert status == 1
    tactics = {t for a in alerts for t in a["threat"]["tactic"]["name"]}
    assert {"Execution", "Persistence", "Defense Evasion", "Credential Access",
            "Privilege Escalation", "Command and Control"} <= tactics
    assert len({a["rule"]["uuid"] for a in alerts}) >= 15
    assert "by rule:" in err
