"""record_bodies.py: the fixed-layout fast paths give what the general splitter gives.

Each fast path is checked against the general code (records.split_body,
argv_of, value_text) on real records from the shared logs and on generated
bodies built around the kernel layout with hostile values mixed in, so a
value the fast pattern would cut differently shows up as a mismatch.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audisp_eql.ecs.proctable import ProcessInfo, ProcessTable
from audisp_eql.source.record_bodies import (SYSCALL_HEAD, SYSCALL_LAYOUT, plain_cwd, plain_proctitle,
                                      single_record_argv, syscall_values,
                                      syscall_values_by_splitting)
from audisp_eql.source.records import argv_of, split_body, split_fields, value_text
from conftest import LOGS

KERNEL_SYSCALL = (
    "arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 "
    "ppid=10 pid=11 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
    'tty=pts0 ses=3 comm="ls" exe="/usr/bin/ls" subj=unconfined key="exec"')


def _bodies(record_type: str) -> list[str]:
    found = []
    header = re.compile(rf"(?:node=\S* )?type={record_type} msg=audit\([^)]*\):? ?(.*)")
    for path in sorted(LOGS.rglob("*")):
        if path.is_file() and path.suffix not in (".md", ".json", ".yaml", ".golden"):
            for line in path.read_bytes().decode("utf-8", "backslashreplace").splitlines():
                m = header.match(line)
                if m:
                    found.append(m.group(1))
    return found


def test_kernel_layout_takes_the_fast_path_with_every_value() -> None:
    m = SYSCALL_LAYOUT.fullmatch(KERNEL_SYSCALL)
    assert m is not None
    assert m.groups() == syscall_values_by_splitting(KERNEL_SYSCALL)
    values = syscall_values(KERNEL_SYSCALL)
    assert values[:4] == ("c000003e", "59", "yes", "0")
    assert values[19:] == ('"ls"', '"/usr/bin/ls"', '"exec"', "")


def test_variants_per_subj_enriched_and_fallbacks() -> None:
    without_subj = KERNEL_SYSCALL.replace(" subj=unconfined", "")
    with_per = KERNEL_SYSCALL.replace(" success=", " per=400000 success=")
    enriched = KERNEL_SYSCALL + '\x1dARCH=x86_64 SYSCALL=execve UID="root" AUID="alice"'
    for body in (without_subj, with_per, enriched):
        assert SYSCALL_LAYOUT.fullmatch(body) is not None, body
        assert syscall_values(body) == syscall_values_by_splitting(body)
    assert syscall_values(enriched)[-1].startswith("\x1dARCH=")
    # Quoted numbers, another order, a quote that does not close: general splitter.
    for body in (KERNEL_SYSCALL.replace("success=yes", 'success="yes"'),
                 KERNEL_SYSCALL.replace("ppid=10 pid=11", "pid=11 ppid=10"),
                 KERNEL_SYSCALL.replace('comm="ls"', 'comm="l s exe="x"')):
        assert SYSCALL_LAYOUT.fullmatch(body) is None
        assert syscall_values(body) == syscall_values_by_splitting(body)


def test_every_shared_log_record_agrees() -> None:
    syscalls = _bodies("SYSCALL")
    assert len(syscalls) > 100
    fast = 0
    for body in syscalls:
        fast += SYSCALL_LAYOUT.fullmatch(body) is not None
        assert syscall_values(body) == syscall_values_by_splitting(body), body
        head = SYSCALL_HEAD.match(body)
        if head:
            fields = split_body(body)[0]
            assert (head[1], head[2]) == (fields["arch"], fields["syscall"])
    assert fast > len(syscalls) // 2      # the real logs mostly use the kernel layout
    for body in _bodies("EXECVE"):
        args = single_record_argv(body)
        if args is not None:
            assert args == argv_of([split_body(body)[0]])[0], body
    for body in _bodies("CWD"):
        cwd = plain_cwd(body)
        if cwd is not None:
            assert cwd == value_text(split_body(body)[0].get("cwd"))
    for body in _bodies("PROCTITLE"):
        title = plain_proctitle(body)
        if title is not None:
            assert title == split_body(body)[0].get("proctitle")


# Values the kernel writes, and values it never writes (quotes, spaces, 0x1D, tabs,
# empty, non-ASCII), so that both the fast path and its refusal are exercised.
_value = st.one_of(
    st.from_regex(r"[0-9]{1,5}", fullmatch=True),
    st.from_regex(r"[0-9A-F]{2,8}", fullmatch=True),
    st.from_regex(r'"[a-z/ .-]{0,6}"', fullmatch=True),
    st.sampled_from(["", '"', '"a', "(null)", "(none)", '"x\x1dy"', "a\tb", "é", "'q'",
                     'x"y', "a=b", "\x1dUID=0"]),
)


@given(values=st.lists(_value, min_size=22, max_size=22), swap=st.booleans())
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_generated_syscall_bodies_agree(values: list[str], swap: bool) -> None:
    names = ["arch", "syscall", "success", "exit", "a0", "a1", "a2", "a3", "items", "ppid",
             "pid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid",
             "tty", "ses"]
    if swap:
        names[9], names[10] = names[10], names[9]
    body = " ".join(f"{n}={v}" for n, v in zip(names, values))
    body += ' comm="sh" exe="/bin/sh" key=(null)'
    assert syscall_values(body) == syscall_values_by_splitting(body)


_arg = st.one_of(
    st.from_regex(r'"[a-z./-]{0,5}"', fullmatch=True),
    st.from_regex(r"(?:[0-9A-F]{2}){1,4}", fullmatch=True),
    st.sampled_from(['"a b"', '"', "", "F", "ZZ", "(null)", '"x\x1d"', "0A\t0B", '""', "ff"]),
)


@given(args=st.lists(_arg, max_size=6), argc_delta=st.integers(-1, 1),
       order=st.permutations(range(6)), shuffle=st.booleans())
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_generated_argv_agrees(args: list[str], argc_delta: int, order: list[int],
                               shuffle: bool) -> None:
    numbers = [i for i in order if i < len(args)] if shuffle else list(range(len(args)))
    body = f"argc={len(args) + argc_delta}" + "".join(
        f" a{n}={value}" for n, value in zip(numbers, args))
    fast = single_record_argv(body)
    if fast is not None:
        assert fast == argv_of([split_fields(body)])[0], body


def test_argv_fast_path_cases() -> None:
    assert single_record_argv('argc=3 a0="sh" a1="-c" a2=6C73202D6C') == ["sh", "-c", "ls -l"]
    assert single_record_argv("argc=1 a0=FF") == ["\\xff"]
    assert single_record_argv('argc=2 a1="x" a0="y"') is None          # out of order
    assert single_record_argv('argc=1 a0_len=4 a0[0]="ab"') is None   # split argument
    assert single_record_argv('argc=1 a0="a b"') is None               # not kernel-quoted
    many = "argc=100" + "".join(f' a{i}="{i}"' for i in range(100))
    assert single_record_argv(many) == [str(i) for i in range(100)]


def test_process_table_entries_share_strings_and_rebuild_the_command_line() -> None:
    table = ProcessTable(max_entries=10)
    for pid in (1, 2):
        # Fresh string objects per entry, as parsing gives (literals would be shared anyway).
        exe = "/".join(["", "usr", "bin", "python3"])
        args = [exe, "-".join(["", "m"]), ".".join(["http", "server"])]
        table.put(None, pid, ProcessInfo(exe, "python3", args, "0", "0", "/srv", True))
    first, second = table.get(None, 1), table.get(None, 2)
    assert first is not None and second is not None
    assert first.args is not second.args and first.args == second.args
    assert all(a is b for a, b in zip(first.args, second.args))
    assert first.executable is second.executable
    assert first.command_line == "/usr/bin/python3 -m http.server"
    assert first.as_parent(7) == {
        "pid": 7, "executable": "/usr/bin/python3", "name": "python3",
        "args": ["/usr/bin/python3", "-m", "http.server"], "args_count": 3,
        "command_line": "/usr/bin/python3 -m http.server", "user": {"id": "0"},
        "group": {"id": "0"}, "working_directory": "/srv", "interactive": True}
