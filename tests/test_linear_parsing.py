"""Issue 17, item 1: every regex and loop over input text is linear.

A regex that retries a long run from each of its characters is quadratic: a
100 kB run without `=` in one record took the field splitter 100 s, and a
1 MiB line (allowed) would take hours, in C, where not even SIGTERM gets
through. The class is closed here in two ways:

* every regex in the package is listed below with how it is used, and run
  that way over the worst inputs for regexes (long runs without `=`, without
  quotes, of spaces, of 0x1D, of the characters the patterns look for,
  behind real prefixes); a regex added to the package and not listed fails
  `test_every_regex_in_the_package_is_reviewed`;
* 1 MiB record lines of the same runs go through both sources, the ECS
  builders and the rules, and through the rule and config loaders.

Both run in a child process under a deadline: a linear pass takes seconds,
a quadratic one hours (the deadline is a wall, not a timing measurement).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import audisp_eql

PACKAGE = Path(audisp_eql.__file__).resolve().parent
ROOT = Path(__file__).resolve().parent.parent

# Every regex in the package: where it lives -> (how it is used, on str or bytes).
# "rules-built": compiled from rule text, proven linear in test_regex_linear.py.
# Inline ones (re.match(literal, ...)) are keyed "module:function:source".
REVIEWED: dict[str, tuple[str, str]] = {
    "audisp_eql.source.records.HEADER": ("match", "str"),
    "audisp_eql.source.records.FIELD": ("findall", "str"),
    "audisp_eql.source.records.RECORD_BLOCK": ("fullmatch", "bytes"),
    "audisp_eql.source.auparse_source._EOE": ("findall", "bytes"),
    "audisp_eql.source.auparse_source._NODE_EOE": ("findall", "bytes"),
    "audisp_eql.source.auparse_source._FIRST_EOE": ("match", "bytes"),
    "audisp_eql.source.records._HEX": ("fullmatch", "str"),
    "audisp_eql.source.records._UNSTAMPED": ("match", "str"),
    "audisp_eql.source.assemble._RECORD_LINE": ("findall", "str"),
    "audisp_eql.source.auparse_source._TYPE_AND_BODY": ("findall", "str"),
    "audisp_eql.source.logfiles._ROTATION": ("match", "str"),
    "audisp_eql.source.record_bodies.SYSCALL_LAYOUT": ("fullmatch", "str"),
    "audisp_eql.source.record_bodies._ARGV_LAYOUT": ("fullmatch", "str"),
    "audisp_eql.source.record_bodies._ARGV_ITEM": ("findall", "str"),
    "audisp_eql.source.record_bodies.SYSCALL_HEAD": ("match", "str"),
    "audisp_eql.ecs.common._BYTE_ESCAPE": ("sub", "bytes"),
    "audisp_eql.escape._UNSAFE": ("sub", "str"),
    "audisp_eql.escape._JSON_UNSAFE": ("sub", "str"),
    "audisp_eql.config_reader._HEADER": ("match", "str"),
    "audisp_eql.config_reader._KEY": ("match", "str"),
    "audisp_eql.rules._QUERY_OPENING": ("search", "str"),
    "audisp_eql.rule_files._TOML_POSITION": ("search", "str"),
    "audisp_eql.rules:_risk_score:'[0-9]{1,3}'": ("fullmatch", "str"),
    "audisp_eql.rules._TABLE_LINE": ("search", "str"),
    "audisp_eql.rules._LOOKBACK": ("fullmatch", "str"),
    "audisp_eql.eql.grammar._ESCAPE": ("sub", "str"),
    "audisp_eql.eql.grammar._COMMENT_OR_STRING": ("sub", "str"),
    "audisp_eql.eql.wildcard:_segment_finder": ("rules-built", "str"),
    "audisp_eql.config_reader:mode:'0?[0-7]{3}'": ("fullmatch", "str"),
    "audisp_eql.config_reader:server_name:'[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?'":
        ("fullmatch", "str"),
    "audisp_eql.config:parse_config:'[A-Za-z_][A-Za-z0-9_]*\\\\*?'": ("fullmatch", "str"),
    "audisp_eql.source.shard._SPEC": ("fullmatch", "str"),
    # Userspace record bodies (USER_*, CRED_*, ...: what PAM, sshd, sudo, shadow-utils write).
    "audisp_eql.ecs.userspace._OP": ("search", "str"),
    "audisp_eql.ecs.userspace._OLD_STYLE": ("sub", "str"),
    "audisp_eql.rule_values._NAME": ("fullmatch", "str"),
    "audisp_eql.eql.linregex._SURROGATE": ("search", "str"),
    "audisp_eql.eql.linregex_syntax:repetition:'(\\\\d+)(?:(,)(\\\\d*))?'": ("fullmatch", "str"),
    # Exception files (TOML, Kibana NDJSON).
    "audisp_eql.exceptions.matcher:_segments_matcher": ("search", "str"),
    "audisp_eql.exceptions.native._TOML_POSITION": ("sub", "str"),
    "audisp_eql.exceptions.native:_header_lines": ("finditer-all", "str"),
    "audisp_eql.exceptions.native:_header_line:f'^[ \\\\t]*\\\\[[ \\\\t]*{re.escape(table)}[ \\\\t]*\\\\]'":
        ("search", "str"),
    "audisp_eql.exceptions.native:_key_line:f'^[ \\\\t]*{re.escape(key)}[ \\\\t]*='": ("search", "str"),
    "audisp_eql.exceptions.values._FIELD": ("fullmatch", "str"),
    "audisp_eql.exceptions.values:parse_expiry:'\\\\d{4}-\\\\d{2}-\\\\d{2}'": ("fullmatch", "str"),
    # The compliance report: its inputs (logs, audit rule files, control mappings).
    "audisp_eql.report.charts._IDS": ("sub", "str"),
    "audisp_eql.report.charts._XML_PROLOGUE": ("sub", "str"),
    "audisp_eql.report.collect._EVENT_ID": ("match", "str"),
    "audisp_eql.report.command:declared_keys:'(?:-k\\\\s+|-F\\\\s*key=|\\\\bkey=)\\\\\"?([^\\\\s\\\\\"]+)'":
        ("findall", "str"),
    "audisp_eql.report.controls._EVIDENCE_KEY": ("search", "str"),
    "audisp_eql.report.controls._FRAMEWORK_TABLE": ("search", "str"),
    "audisp_eql.report.controls._ID_KEY": ("search", "str"),
    "audisp_eql.report.controls._ID": ("fullmatch", "str"),
    "audisp_eql.report.controls._POSITION": ("sub", "str"),
    "audisp_eql.report.controls._SOURCE": ("fullmatch", "str"),
    "audisp_eql.report.controls:_evidence": ("search", "str"),
    "audisp_eql.report.controls:_framework:f'^[ \\\\t]*id[ \\\\t]*=[ \\\\t]*\"{re.escape(cid)}\"'":
        ("finditer-all", "str"),
    "audisp_eql.report.facts._UNKNOWN_TYPE": ("fullmatch", "str"),
    "audisp_eql.report.timerange._C_DATE": ("match", "str"),
    "audisp_eql.report.timerange._ISO_DATE": ("match", "str"),
    "audisp_eql.report.timerange._ISO_STAMP": ("match", "str"),
    "audisp_eql.report.timerange._TIME": ("match", "str"),
    "audisp_eql.config:parse_config:'\\\\(at line (\\\\d+), column \\\\d+\\\\)'": ("search", "str"),
    "audisp_eql.config:parse_config:'[!-~]{1,32}'": ("fullmatch", "str"),
    "audisp_eql.eql.grammar:_string_list:_STRING": ("findall", "str"),
    "audisp_eql.eql.grammar:_field:_IDENT": ("findall", "str"),
    "audisp_eql.eql.grammar:_number:'-?\\\\d+'": ("fullmatch", "str"),
    "audisp_eql.eql.grammar:_timespan:'(\\\\d+(?:\\\\.\\\\d+)?)\\\\s*(ms|s|m|h|d)?'": ("fullmatch", "str"),
    "audisp_eql.eql.grammar:blank:'[^\\\\n]'": ("sub", "str"),
    "audisp_eql.eql.grammar:_describe:'\"[^\"\\\\n]{0,20}\"?|\\\\w+|\\\\S'": ("match", "str"),
}

# Patterns compiled at run time (in a function, or an f-string around an
# escaped name): the expression that builds them, evaluated with SAMPLES for
# its names, and the flags the code gives them. An f-string key's own source
# is its expression.
BUILT: dict[str, tuple[str, int]] = {
    # Exception wildcards: fixed-length segments, `.` for each `?`.
    "audisp_eql.exceptions.matcher:_segments_matcher": ("'a.b'", re.S),
    "audisp_eql.exceptions.native:_header_lines":
        ("rf'^[ \\t]*\\[\\[[ \\t]*{re.escape(table)}[ \\t]*\\]\\]'", re.M),
    "audisp_eql.report.controls:_evidence":
        ("rf'^[ \\t]*\\[evidence\\.{re.escape(name)}\\]'", re.M),
}
for _key in REVIEWED:
    if _key.count(":") >= 2 and _key.split(":", 2)[2].startswith("f'"):
        BUILT[_key] = (_key.split(":", 2)[2], re.M)
SAMPLES = {"table": "exception", "key": "field", "name": "logins", "cid": "AC-2"}

# Runs that regexes over audit text trip on, and prefixes that get them past
# the first literal of the patterns.
RUNS = ("z", '"', "'", " ", "\x1d", "=", "a=", 'a="', "a='", "node=", "type=", "msg=audit(",
        "0", "1.", "1:", "(", ")", "\n", "\\", "\\x", "a ", "a=b ", " a1=", "41", "\t",
        '"""', "/*", "//", "`", "[rule]", " \n", "\n ", "#", "a.", "x\\",
        " op=", ") ", ", ", "(hostname=", "-k ", "key=", "id =", "[[exception]]\n")
PREFIXES = ("", "type=SYSCALL msg=audit(1700000000.000:1): ", "node=",
            "arch=c000003e syscall=59 ", "argc=2 a0=", "query = ", "\"")
RUN_CHARS = 100_000


def _pattern_objects() -> dict[str, re.Pattern]:
    """Module-level compiled regexes, each under the module that compiles it."""
    found: dict[int, tuple[str, re.Pattern]] = {}
    for info in pkgutil.walk_packages([str(PACKAGE)], "audisp_eql."):
        module = importlib.import_module(info.name)
        source = Path(module.__file__).read_text()  # type: ignore[arg-type]
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern) and re.search(
                    rf"^{re.escape(name)} = re\.compile", source, re.MULTILINE):
                found[id(value)] = (f"{info.name}.{name}", value)
    return dict(found.values())


class _Calls(ast.NodeVisitor):
    """re.<function>(...) calls, keyed module:innermost function:pattern."""

    def __init__(self, module: str) -> None:
        self.module, self.stack, self.uses = module, [], set()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    def visit_Call(self, call: ast.Call) -> None:
        func = call.func
        if (self.stack and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "re" and func.attr != "escape" and call.args):
            first = call.args[0]
            where = f"{self.module}:{self.stack[-1]}"
            if isinstance(first, ast.Constant):
                self.uses.add(f"{where}:{first.value!r}")
            elif func.attr == "compile":
                self.uses.add(where)
            else:
                self.uses.add(f"{where}:{ast.unparse(first)}")
        self.generic_visit(call)


def _inline_uses() -> set[str]:
    uses: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        module = "audisp_eql." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        visitor = _Calls(module.removesuffix(".__init__"))
        visitor.visit(ast.parse(path.read_text()))
        uses |= visitor.uses
    return uses


def test_every_regex_in_the_package_is_reviewed() -> None:
    present = set(_pattern_objects()) | _inline_uses()
    listed = set(REVIEWED)
    missing = sorted(present - listed)
    assert not missing, ("regexes not reviewed for linear time; list each in REVIEWED with "
                         f"its use and make sure the worst inputs below cover it: {missing}")
    stale = sorted(listed - present)
    assert not stale, f"REVIEWED lists regexes that no longer exist: {stale}"


_CHILD = textwrap.dedent("""
    import importlib, json, re, sys, time
    reviewed = json.loads(sys.argv[1])
    runs, prefixes, n = json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
    built, samples = json.loads(sys.argv[5]), json.loads(sys.argv[6])
    def pattern_of(key):
        if key in built:
            source, flags = built[key]
            return re.compile(eval(source, {"re": re, **samples}), flags)
        if ":" not in key:
            module, name = key.rsplit(".", 1)
            return getattr(importlib.import_module(module), name)
        module, _function, source = key.split(":", 2)
        mod = importlib.import_module(module)
        try:
            return re.compile(eval(source, {}))            # a literal
        except NameError:
            return re.compile(getattr(mod, source))         # a module constant
    for key, (use, kind) in reviewed.items():
        if use == "rules-built":
            continue
        pattern = pattern_of(key)
        start = time.monotonic()
        for prefix in prefixes:
            for run in runs:
                text = prefix + run * (n // len(run))
                data = text.encode("utf-8", "surrogateescape") if kind == "bytes" else text
                if use == "sub":
                    pattern.sub(b"" if kind == "bytes" else "", data)
                elif use == "finditer-all":
                    list(pattern.finditer(data))
                else:
                    getattr(pattern, use)(data)
        print(json.dumps([key, round(time.monotonic() - start, 2)]), flush=True)
""")


def test_every_regex_is_linear_on_the_worst_inputs() -> None:
    """Each regex, used as the code uses it, over 100 000-character runs of
    every troublesome character behind every prefix (7 x 45 inputs per regex)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(REVIEWED), json.dumps(RUNS),
         json.dumps(PREFIXES), str(RUN_CHARS), json.dumps(BUILT), json.dumps(SAMPLES)],
        capture_output=True, text=True, timeout=None if os.environ.get("NO_DEADLINE") else 240,
        cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = [json.loads(line)[0] for line in proc.stdout.splitlines()]
    assert len(done) == sum(1 for use, _ in REVIEWED.values() if use != "rules-built")


_PIPELINE_CHILD = textwrap.dedent("""
    import json, sys
    from audisp_eql.pipeline import PipelineOptions, build_pipeline
    from audisp_eql.rules import load_rules
    rules = load_rules([sys.argv[1]]).rules
    runs = json.loads(sys.argv[2])
    n = int(sys.argv[3])
    def head(rtype, serial=1):
        return "type=%s msg=audit(1700000000.000:%d): " % (rtype, serial)
    def syscall(serial, number, items):
        return (head("SYSCALL", serial) + "arch=c000003e syscall=%d success=yes exit=3 a0=3 "
                "items=%d ppid=1 pid=2 auid=1000 uid=0 comm=\\"x\\" exe=\\"/bin/x\\" " % (number, items))
    for parser in ("auparse", "python"):
        docs = []
        pipe = build_pipeline(PipelineOptions(parser=parser, rules=rules),
                              on_document=docs.append)
        for run in runs:
            body = run * (n // len(run))
            lines = [head("SYSCALL") + "arch=c000003e syscall=59 success=yes exit=0 a0=1 "
                     "items=1 ppid=1 pid=2 uid=0 comm=\\"x\\" exe=\\"/bin/x\\" " + body,
                     head("EXECVE") + "argc=3 a0=\\"nc\\" a1=" + body,
                     head("CWD") + "cwd=" + body,
                     head("PROCTITLE") + "proctitle=" + body,
                     head("PATH") + body,
                     "node=" + body + " " + head("SYSCALL") + body,
                     head("EOE"),
                     # main's builders: userspace messages, audit trail, file,
                     # network and AppArmor records.
                     head("USER_LOGIN", 2) + "pid=1 uid=0 auid=0 ses=1 msg='op=login " + body
                     + " acct=\\"x\\" exe=\\"/usr/sbin/sshd\\" addr=1.2.3.4 res=failed'",
                     head("USER_CMD", 3) + "pid=1 uid=1000 auid=1000 ses=1 msg='cwd=\\"/\\" cmd="
                     + body + " terminal=pts/0 res=success'",
                     head("USER_AUTH", 4) + "pid=1 uid=0 msg='(hostname=" + body + ", addr=?, "
                     "terminal=pts/0 res=failed)'",
                     head("CONFIG_CHANGE", 5) + "auid=0 ses=1 op=add_rule key=" + body + " res=1",
                     syscall(6, 42, 0) + body, head("SOCKADDR", 6) + "saddr=" + body,
                     head("EOE", 6),
                     syscall(7, 87, 2) + body, head("CWD", 7) + "cwd=" + body,
                     head("PATH", 7) + "item=0 name=\\"/tmp/\\" nametype=PARENT",
                     head("PATH", 7) + "item=1 name=" + body + " nametype=DELETE",
                     head("EOE", 7),
                     head("AVC", 8) + "apparmor=\\"DENIED\\" operation=\\"open\\" profile=\\"p\\" "
                     "pid=2 comm=\\"x\\" requested_mask=\\"r\\" denied_mask=\\"r\\" name=" + body]
            pipe.feed(("\\n".join(lines) + "\\n").encode("utf-8", "surrogateescape"))
        pipe.flush()
        kinds = sorted({c for d in docs for c in d.get("event", {}).get("category", [])})
        print(parser, pipe.counts.events, len(docs), ",".join(kinds), flush=True)
""")


def test_megabyte_records_of_the_worst_runs_through_both_sources_and_the_rules(shared) -> None:
    """1 MiB record bodies (the line bound) of each troublesome run, every record
    kind (exec, userspace, audit trail, file, network, AppArmor), through both
    sources, every builder and the 351 corpus rules."""
    runs = ("z", '"', "'", " ", "\x1d", "=", "a=", 'a="', "a1[0]=", "41", "\\x", "node=")
    proc = subprocess.run(
        [sys.executable, "-c", _PIPELINE_CHILD, str(shared / "corpus" / "detection-rules"),
         json.dumps(runs), str((1 << 20) - 200)],
        capture_output=True, text=True, timeout=None if os.environ.get("NO_DEADLINE") else 240,
        cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.split("\n")
    assert lines[0].startswith("auparse ") and lines[1].startswith("python "), proc.stdout
    for line in lines[:2]:     # every builder of these records reached by both sources
        assert set(line.split()[3].split(",")) >= {"authentication", "configuration", "file",
                                                   "network", "process"}, proc.stdout


def test_rule_and_config_loaders_are_linear(tmp_path: Path) -> None:
    """The loaders' line-finding regexes on 200 000 blank lines, spaces or keys
    (the [rule] finder took over 60 s on blank lines)."""
    from audisp_eql.config import ConfigError, parse_config
    from audisp_eql.rules import load_rules

    body = textwrap.dedent('''
        [metadata]
        maturity = "production"
        [rule]
        rule_id = "r1"
        name = "linear"
        risk_score = "x"
        query = "process where true"
    ''')
    for filler in ("\n", " \n", "\t\n", "#\n"):
        path = tmp_path / f"r{len(filler)}{ord(filler[0])}.toml"
        path.write_text(filler * 200_000 + body)
        report = load_rules([path]).reports[0]
        assert report.status == "invalid" and ":200007:" in report.reason, report.reason
    for text in ("a" + " " * 200_000 + "\n", "[" + " " * 200_000 + "\n", "\n" * 200_000 + "x ="):
        try:
            parse_config(text, "c.toml")
        except ConfigError:
            pass
