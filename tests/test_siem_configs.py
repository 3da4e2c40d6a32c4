"""conf/siem/: the configurations that take audisp-eql's alerts into a SIEM
with existing shippers, checked by the shippers themselves.

- rsyslog (relay over TLS with RFC 5424, the central that receives it, and
  imfile + omelasticsearch): `rsyslogd -N1` on each (with a broken copy as
  the control that the check checks), and relay -> central run for real:
  the plugin's alerts go through a relay rsyslogd, TLS, a central rsyslogd.
- Filebeat and Fluent Bit: their own config test where they are installed
  (`filebeat test config`, `fluent-bit --dry-run`); neither is packaged by
  Debian 12 and their vendors' repositories are not reachable from this
  machine, so elsewhere the test says so and checks the structure against
  the settings their documentation names instead.
- The Elasticsearch index template: valid JSON, and every field of every
  alert the plugin can write has a mapping of a type that takes its value.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from audisp_eql.ecs import catalog
from audisp_eql.rules import load_rules
from conftest import CORPUS, ROOT
from harness import pipelines
from harness.certs import make_ca
from harness.plugin_config import plugin_argv, write_plugin_config
from harness.procs import stop_process, tail, wait_for
from harness.rsyslogd import RSYSLOGD, free_port, gtls_installed

SIEM = ROOT / "conf" / "siem"
RULE_LOGS = ROOT / "tests" / "data" / "rules"


def rsyslog_module(name: str) -> bool:
    """Is rsyslog's module `name` installed (under any multiarch directory)?"""
    return any(Path("/usr/lib").glob(f"*/rsyslog/{name}.so")) or \
        Path(f"/usr/lib/rsyslog/{name}.so").exists()


def localized(conf: Path, tmp: Path, tls: Path | None = None, **extra: str) -> str:
    """A shipped config with its paths moved under `tmp` (TLS files: `tls`)."""
    text = conf.read_text()
    text = text.replace("/etc/audisp-eql/tls/", f"{tls or tmp / 'tls'}/")
    text = text.replace("/var/log/audisp-eql/", f"{tmp}/log/")
    for old, new in extra.items():
        text = text.replace(old, new)
    return text


def rsyslog_check(main: Path) -> subprocess.CompletedProcess:
    return subprocess.run([RSYSLOGD, "-N1", "-f", str(main)], capture_output=True, text=True,
                          timeout=60, cwd=main.parent)


def main_config(tmp: Path, name: str, body: str) -> Path:
    """A main rsyslog.conf as Debian's sets it (a work directory), then the drop-in."""
    work = tmp / f"work-{name}"
    work.mkdir(exist_ok=True)
    dropin = tmp / f"{name}.conf"
    dropin.write_text(body)
    main = tmp / f"main-{name}.conf"
    main.write_text(f'global(workDirectory="{work}")\ninclude(file="{dropin}")\n')
    return main


@pytest.fixture
def tls(tmp_path: Path) -> Path:
    ca = make_ca(tmp_path / "tls", "audisp-eql test CA")
    central = ca.issue("central", dns=["central.example.net"])
    shutil.copy(ca.cert, tmp_path / "tls" / "ca.pem")
    assert central.cert == tmp_path / "tls" / "central.pem"
    return tmp_path / "tls"


@pytest.mark.parametrize("name", ["rsyslog-relay", "rsyslog-central", "rsyslog-elasticsearch"])
def test_rsyslog_configs_pass_rsyslogd_config_check(tmp_path: Path, tls: Path, name: str) -> None:
    if not gtls_installed():
        pytest.skip("rsyslog-gnutls is not installed (tools/bootstrap.sh installs it)")
    if name == "rsyslog-elasticsearch" and not rsyslog_module("omelasticsearch"):
        pytest.skip("omelasticsearch is not installed (package rsyslog-elasticsearch, "
                    "tools/bootstrap.sh installs it)")
    (tmp_path / "log").mkdir()
    body = localized(SIEM / f"{name}.conf", tmp_path, tls)
    done = rsyslog_check(main_config(tmp_path, name, body))
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr
    assert "End of config validation run" in done.stdout + done.stderr
    # The control: the same check refuses a misspelled parameter in this file.
    broken = re.sub(r'(action\(type="om[a-z]+"\s*)', r'\1bogusParameter="1" ', body, count=1)
    assert broken != body
    done = rsyslog_check(main_config(tmp_path, name + "-broken", broken))
    assert done.returncode != 0 and "bogusparameter" in (done.stdout + done.stderr).lower()


def running_rsyslogd_with(main: Path, pidfile: Path) -> subprocess.Popen:
    return subprocess.Popen([RSYSLOGD, "-n", "-f", str(main), "-i", str(pidfile)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(main.with_suffix(".stderr"), "wb"),
                            start_new_session=True)


def test_relay_to_central_over_tls_delivers_every_alert(tmp_path: Path, tls: Path) -> None:
    """The plugin's alerts (format json) -> a relay rsyslogd with
    rsyslog-relay.conf -> RFC 5425 TLS, RFC 5424 -> a central rsyslogd with
    rsyslog-central.conf -> one file per relaying host: every alert arrives,
    whole and as the plugin wrote it."""
    if not gtls_installed():
        pytest.skip("rsyslog-gnutls is not installed (tools/bootstrap.sh installs it)")
    port = free_port(2)   # socket.SOCK_STREAM
    (tmp_path / "log").mkdir()
    central_main = main_config(tmp_path, "central", localized(
        SIEM / "rsyslog-central.conf", tmp_path, tls,
        **{'port="6514"': f'address="127.0.0.1" port="{port}"'}))
    socket_path = tmp_path / "relay.sock"
    relay_body = localized(SIEM / "rsyslog-relay.conf", tmp_path, tls,
                           **{'target="central.example.net" port="6514"':
                              f'target="127.0.0.1" port="{port}"'})
    relay_main = main_config(tmp_path, "relay", f'module(load="imuxsock" SysSock.Use="off")\n'
                             f'input(type="imuxsock" Socket="{socket_path}")\n' + relay_body)
    alerts_file = tmp_path / "alerts.json"
    config = write_plugin_config(tmp_path, [ROOT / "rules"], alerts_file, burst=0,
                                 syslog_socket=socket_path, syslog_format="json",
                                 parent_from_proc=False)
    log = b"".join(p.read_bytes() for p in sorted(RULE_LOGS.glob("*.hit.log"))[:6])
    central = running_rsyslogd_with(central_main, tmp_path / "central.pid")
    relay = None
    try:
        assert wait_for(lambda: _listening(port), 15.0), tail(central_main.with_suffix(".stderr"))
        relay = running_rsyslogd_with(relay_main, tmp_path / "relay.pid")
        assert wait_for(socket_path.exists, 15.0), tail(relay_main.with_suffix(".stderr"))
        done = subprocess.run(plugin_argv(config), input=log, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        written = [json.loads(line) for line in alerts_file.read_text().splitlines()]
        assert len(written) >= 6

        def received() -> list[dict]:
            out = []
            for path in (tmp_path / "log" / "central").glob("*.log"):
                for line in path.read_text().splitlines():
                    host, _, message = line.partition(" ")
                    # (the plugin's own messages, start and status, are relayed too)
                    if message.strip().startswith("{"):
                        out.append(json.loads(message.strip()))
            return out

        assert wait_for(lambda: len(received()) == len(written), 30.0), \
            tail(relay_main.with_suffix(".stderr")) + tail(central_main.with_suffix(".stderr"))
        key = lambda a: (a["event"]["id"], a["rule"]["id"])  # noqa: E731
        assert sorted(map(key, received())) == sorted(map(key, written))
        assert {json.dumps(a, sort_keys=True) for a in received()} == \
            {json.dumps(a, sort_keys=True) for a in written}
    finally:
        if relay is not None:
            stop_process(relay)
        stop_process(central)


def _listening(port: int) -> bool:
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- Filebeat and Fluent Bit -------------------------------------------------------------
NOT_PACKAGED = ("{tool} is not installed: Debian 12 does not package it and its vendor's APT "
                "repository ({repo}) is not reachable from this machine (only Debian's, PyPI "
                "and npm are), so its own config test cannot run here; the structure is "
                "checked against its documented settings by {structure}")


def test_filebeat_validates_its_config_where_installed(tmp_path: Path, tls: Path) -> None:
    filebeat = shutil.which("filebeat")
    if filebeat is None:
        pytest.skip(NOT_PACKAGED.format(tool="filebeat", repo="artifacts.elastic.co",
                                        structure="test_filebeat_config_structure"))
    conf = tmp_path / "filebeat.yml"
    conf.write_text(localized(SIEM / "filebeat.yml", tmp_path, tls))
    os_env = {"PATH": "/usr/bin:/bin", "AUDISP_EQL_ES_PASSWORD": "x"}
    done = subprocess.run([filebeat, "test", "config", "-c", str(conf), "--path.data",
                           str(tmp_path / "data"), "--path.logs", str(tmp_path / "logs")],
                          capture_output=True, text=True, timeout=120, env=os_env)
    assert done.returncode == 0 and "Config OK" in done.stdout, done.stdout + done.stderr


def test_fluent_bit_validates_its_config_where_installed(tmp_path: Path, tls: Path) -> None:
    fluent_bit = shutil.which("fluent-bit") or (
        "/opt/fluent-bit/bin/fluent-bit" if Path("/opt/fluent-bit/bin/fluent-bit").exists()
        else None)
    if fluent_bit is None:
        pytest.skip(NOT_PACKAGED.format(tool="fluent-bit", repo="packages.fluentbit.io",
                                        structure="test_fluent_bit_config_structure"))
    parsers = tmp_path / "audisp-eql-parsers.conf"
    shutil.copy(SIEM / "fluent-bit-parsers.conf", parsers)
    conf = tmp_path / "fluent-bit.conf"
    conf.write_text(localized(SIEM / "fluent-bit.conf", tmp_path, tls, **{
        "/etc/fluent-bit/audisp-eql-parsers.conf": str(parsers),
        "/var/lib/fluent-bit/": f"{tmp_path}/"}))
    done = subprocess.run([fluent_bit, "--dry-run", "-c", str(conf)], capture_output=True,
                          text=True, timeout=120, env={"AUDISP_EQL_ES_PASSWORD": "x"})
    assert done.returncode == 0, done.stdout + done.stderr


# Settings named by Filebeat 8's reference (filestream input, ndjson parser,
# Elasticsearch output, index template and ILM setup).
FILEBEAT_INPUT = {"type", "id", "paths", "parsers", "prospector.scanner.check_interval",
                  "enabled", "tags", "fields", "processors", "close.on_state_change.inactive"}
FILEBEAT_NDJSON = {"target", "overwrite_keys", "expand_keys", "add_error_key", "message_key",
                   "document_id", "ignore_decoding_error"}
FILEBEAT_ES = {"hosts", "username", "password", "api_key", "ssl.certificate_authorities",
               "index", "pipeline", "protocol", "compression_level", "bulk_max_size"}
FILEBEAT_TOP = {"filebeat.inputs", "output.elasticsearch", "setup.template.enabled",
                "setup.template.name", "setup.template.pattern", "setup.ilm.enabled"}


def test_filebeat_config_structure() -> None:
    yaml = pytest.importorskip("yaml", reason="python3-yaml (tools/bootstrap.sh installs it)")
    conf = yaml.safe_load((SIEM / "filebeat.yml").read_text())
    assert set(conf) <= FILEBEAT_TOP, set(conf) - FILEBEAT_TOP
    [source] = conf["filebeat.inputs"]
    assert set(source) <= FILEBEAT_INPUT and source["type"] == "filestream" and source["id"]
    assert source["paths"] == ["/var/log/audisp-eql/alerts.json"]   # the shipped [output.file]
    [parser] = source["parsers"]
    assert set(parser) == {"ndjson"} and set(parser["ndjson"]) <= FILEBEAT_NDJSON
    assert parser["ndjson"]["target"] == "" and parser["ndjson"]["overwrite_keys"] is True
    output = conf["output.elasticsearch"]
    assert set(output) <= FILEBEAT_ES and output["index"].startswith("audisp-eql-alerts-%{+")
    # A custom index needs the template's name and a pattern that matches it.
    assert conf["setup.template.pattern"] == "audisp-eql-alerts-*"
    template = json.loads((SIEM / "elasticsearch-index-template.json").read_text())
    assert template["index_patterns"] == [conf["setup.template.pattern"]]


# Keys named by Fluent Bit's manual (classic format) for these sections and plugins.
FLUENT_KEYS = {
    "SERVICE": {"flush", "log_level", "parsers_file", "storage.path", "daemon", "http_server"},
    "tail": {"name", "tag", "path", "parser", "db", "read_from_head", "buffer_max_size",
             "skip_long_lines", "storage.type", "refresh_interval", "mem_buf_limit"},
    "es": {"name", "match", "host", "port", "http_user", "http_passwd", "tls", "tls.verify",
           "tls.ca_file", "logstash_format", "logstash_prefix", "logstash_dateformat",
           "time_key", "time_key_format", "suppress_type_name", "replace_dots", "retry_limit",
           "index", "generate_id", "id_key", "path", "pipeline", "compress"},
    "PARSER": {"name", "format", "time_key", "time_format", "time_keep", "regex", "decode_field"},
}


def classic_sections(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Fluent Bit's classic format: [SECTION] lines, then indented `Key Value` lines."""
    sections: list[tuple[str, dict[str, str]]] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        header = re.fullmatch(r"\[([A-Z]+)\]", line)
        if header:
            sections.append((header.group(1), {}))
            continue
        assert line.startswith("    ") and sections, f"{path}:{number}: not in a section"
        key, _, value = line.strip().partition(" ")
        assert value.strip(), f"{path}:{number}: {key} has no value"
        assert key.lower() not in sections[-1][1], f"{path}:{number}: {key} twice"
        sections[-1][1][key.lower()] = value.strip()
    return sections


def test_fluent_bit_config_structure() -> None:
    sections = classic_sections(SIEM / "fluent-bit.conf")
    assert [name for name, _ in sections] == ["SERVICE", "INPUT", "OUTPUT"]
    service, source, output = (keys for _, keys in sections)
    assert set(service) <= FLUENT_KEYS["SERVICE"]
    assert source["name"] == "tail" and set(source) <= FLUENT_KEYS["tail"]
    assert output["name"] == "es" and set(output) <= FLUENT_KEYS["es"]
    assert source["path"] == "/var/log/audisp-eql/alerts.json"
    assert re.fullmatch(output["match"].replace(".", r"\.").replace("*", ".*"), source["tag"])
    [(kind, parser)] = classic_sections(SIEM / "fluent-bit-parsers.conf")
    assert kind == "PARSER" and set(parser) <= FLUENT_KEYS["PARSER"]
    assert parser["name"] == source["parser"] and parser["format"] == "json"
    assert service["parsers_file"].endswith("audisp-eql-parsers.conf")
    # The parser reads the alerts' own @timestamp (our format: milliseconds, Z).
    import datetime
    stamp = "2024-06-03T07:33:20.250Z"
    assert parser["time_key"] == "@timestamp"
    parsed = datetime.datetime.strptime(stamp, parser["time_format"].replace("%L", "%f"))
    assert parsed.microsecond == 250000
    template = json.loads((SIEM / "elasticsearch-index-template.json").read_text())
    assert re.fullmatch(template["index_patterns"][0].replace("*", ".*"),
                        output["logstash_prefix"] + "-2024.06.03")


# -- the index template ---------------------------------------------------------------------
TYPES_TAKING = {str: {"keyword", "text", "date", "wildcard", "ip"}, bool: {"boolean"},
                int: {"long", "integer", "float", "double"}, float: {"float", "double"}}


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, path)
    else:
        yield path, value


def mapping_of(properties: dict, path: str) -> dict | None:
    node: dict | None = {"properties": properties}
    for part in path.split("."):
        node = (node or {}).get("properties", {}).get(part)
        if node is None:
            return None
    return node


def every_kind_of_alert() -> list[dict]:
    """Alerts of our rules on their hit logs and of the corpus on the shared
    workload, a sequence-style alert (ancestors), a rate-limit summary and an
    alert shortened for syslog."""
    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Match
    from audisp_eql.outputs import RateLimiter
    from audisp_eql.outputs.format import format_alert_within
    ours = load_rules([ROOT / "rules"]).rules
    alerts = [a for log in sorted(RULE_LOGS.glob("*.hit.log"))
              for a in pipelines.alerts_of(log.read_bytes(), ours, parser="auto")]
    corpus = load_rules([CORPUS / "rules" / "linux"]).rules
    import sys
    sys.path.insert(0, str(ROOT))
    from bench.fleet import node_log
    replay = b"".join(node_log(CORPUS.parent.parent, "web01.example.net", 400, 3))
    alerts += pipelines.alerts_of(replay, corpus, parser="auto")
    docs = pipelines.documents_of(b"".join(p.read_bytes() for p in
                                           sorted(RULE_LOGS.glob("*.hit.log"))[:2]))
    alerts.append(make_alert(Match(ours[0], tuple(docs[:2]))))
    limiter = RateLimiter(burst=1, interval=1.0)
    for alert in alerts[:3]:
        limiter.admit({**alert, "rule": alerts[0]["rule"]}, now=0.0)
    alerts += limiter.drain()
    huge = {**alerts[0], "process": {**alerts[0]["process"], "args": ["x" * 100_000]}}
    alerts.append(json.loads(format_alert_within(huge, "json", 4000)))
    return alerts


def test_index_template_is_generated_from_what_we_write() -> None:
    """The template follows the registered event kinds: regenerated, not hand-kept."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "index_template.py"),
                             "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_index_template_maps_every_field_of_every_alert() -> None:
    template = json.loads((SIEM / "elasticsearch-index-template.json").read_text())
    mappings = template["template"]["mappings"]
    properties = mappings["properties"]
    alerts = every_kind_of_alert()
    kinds = {("ancestors" in a.get("kibana", {}).get("alert", {}),
              "suppressed" in a.get("audisp_eql", {}),
              "truncated" in a.get("audisp_eql", {})) for a in alerts}
    assert {(True, False, False), (False, True, False)} <= kinds and \
        any(truncated for _, _, truncated in kinds)
    seen: dict[str, set[type]] = {}
    for alert in alerts:
        for path, value in leaves(alert):
            seen.setdefault(path, set()).add(type(value))
    # Fields a document may carry that these alerts happen not to (the catalog).
    for field in catalog().fields():
        seen.setdefault(field, set())
    unmapped = sorted(path for path in seen if mapping_of(properties, path) is None)
    assert not unmapped, f"fields without a mapping: {unmapped}"
    for path, types in seen.items():
        mapped = mapping_of(properties, path)
        assert mapped is not None and "type" in mapped, path
        for kind in types:
            assert mapped["type"] in TYPES_TAKING[kind], (path, kind, mapped["type"])
    assert properties["@timestamp"]["type"] == "date"
    assert mappings["dynamic"] is False   # what is not mapped is kept in _source only
