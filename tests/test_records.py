"""records.py: header, fields, ENRICHED, value decoding, argv rebuilding."""

from __future__ import annotations

import pytest

from audisp_eql.source.records import (RecordError, execve_args, parse_line, proctitle_text,
                                value_bytes, value_text)


def test_header_node_and_fields() -> None:
    rec = parse_line(b'node=web1 type=CWD msg=audit(1615114232.375:15558): cwd="/home/a b"', 7)
    assert (rec.node, rec.type, rec.sec, rec.msec, rec.serial, rec.line_no) == \
        ("web1", "CWD", 1615114232, 375, 15558, 7)
    assert rec.fields == {"cwd": '"/home/a b"'}
    assert value_text(rec.fields["cwd"]) == "/home/a b"


def test_enriched_fields_after_0x1d() -> None:
    rec = parse_line(b'type=SYSCALL msg=audit(1.002:3): uid=0 key=(null)\x1dUID="root" ARCH=x86_64')
    assert rec.fields == {"uid": "0", "key": "(null)"}
    assert rec.enriched == {"UID": '"root"', "ARCH": "x86_64"}


@pytest.mark.parametrize("line", [b"", b"hello", b"type=SYSCALL msg=audit(x): a=b",
                                  b"type=SYSCALL msg=audit(1.2): a=b"])
def test_malformed_lines_raise_with_reason(line: bytes) -> None:
    with pytest.raises(RecordError) as info:
        parse_line(line)
    assert info.value.reason and not info.value.unstamped


def test_unstamped_record_is_flagged() -> None:
    with pytest.raises(RecordError) as info:
        parse_line(b"type=UNKNOWN[1329] msg=?")
    assert info.value.unstamped


def test_values_quoted_hex_null() -> None:
    assert value_bytes('"a b"') == b"a b"
    assert value_bytes("6869") == b"hi"
    assert value_bytes("(null)") is None
    assert value_text("FF6869") == "\\xffhi"        # not UTF-8 -> \xNN escape
    assert value_text("(none)") == "(none)"


def _execve(*bodies: str) -> list:
    return [parse_line(f"type=EXECVE msg=audit(1.000:1): {b}") for b in bodies]


def test_split_argument_joined_as_bytes_across_records() -> None:
    # "é" = c3 a9 split between two chunks must survive the join.
    recs = _execve('argc=2 a0="x" a1_len=6 a1[0]=41C3', 'a1[1]=A942')
    assert execve_args(recs) == (["x", "AéB"], 2)


def test_argc_zero_with_a0_keeps_what_is_present() -> None:
    assert execve_args(_execve('argc=0 a0="whoami"')) == (["whoami"], 0)


def test_null_argument_is_empty_string() -> None:
    assert execve_args(_execve('argc=2 a0="ls" a1=(null)')) == (["ls", ""], 2)


def test_proctitle_nul_separated_hex() -> None:
    assert proctitle_text("6C73002D6C00") == "ls -l"
    assert proctitle_text('"bash"') == "bash"
