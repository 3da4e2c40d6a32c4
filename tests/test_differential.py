"""Issue 17, item 13: both event sources agree on every input, malformed ones
above all (a differential test). The auparse source used to drop forged
events the python source kept, without counting them (serial >= 2**64, a
20+ digit msec, an empty node=, 0x1D in node= splitting the event): now both
apply the same header rules and the python source groups exactly as auparse
3.0.9 does (source/grouping.py), so the same events come out of both, in
the same order, with the same counts, however the bytes are cut into reads.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from fuzz.differential import disagreement
from fuzz.mutators import Mutator
from fuzz.seeds import load_seeds

SECONDS = [b"1700000000", b"1700000001", b"1700000003", b"1699999990", b"1700000100",
           b"1", b"12345", b"01700000000", b"99999999999", b"9" * 30]
MSECS = [b"000", b"001", b"999", b"1000", b"0999", b"1", b"99", b"9" * 25]
SERIALS = [b"1", b"2", b"3", b"18446744073709551615", b"18446744073709551616", b"0",
           b"00000000000000000001", b"9" * 4400]
NODES = [None, None, b"a", b"b", b"", b"a\x1db", b"h" * 253, b"h" * 254, b"x)y", b"\xff"]
TYPES = [b"SYSCALL", b"EXECVE", b"CWD", b"PATH", b"PROCTITLE", b"EOE", b"EOE", b"LOGIN",
         b"USER_CMD", b"AVC", b"USER_AVC", b"UNKNOWN[1337]", b"UNKNOWN[1320]", b"UNKNOWN[0]",
         b"FOO", b"syscall", b"KERNEL", b"ANOM_PROMISCUOUS", b"INTEGRITY_DATA",
         b"MAC_UNLBL_ALLOW", b"S" * 28, b"S" * 29, b"EXECVE\x00", b"SYSCALL:", b""]
BODIES = [b"arch=c000003e syscall=59 success=yes exit=0 a0=1 pid=5",
          b'argc=2 a0="nc" a1="-e"', b'cwd="/tmp"', b"", b" ",
          b'a0="x"\x1dUID="root"', b"avc:  denied  { " + b"read " * 60 + b"} for pid=1",
          b"avc:  denied  { read } for pid=1", b'msg=\'op=x res=1\'', b"a=b\x00c",
          b"\xff\xfe", b"x" * 500, b"msg=audit(1700000000.000:9): inner"]


@st.composite
def record_line(draw: st.DrawFn) -> bytes:
    node = draw(st.sampled_from(NODES))
    head = (b"node=" + node + b" " if node is not None else b"") + b"type=" \
        + draw(st.sampled_from(TYPES)) + b" msg=audit(" + draw(st.sampled_from(SECONDS)) \
        + b"." + draw(st.sampled_from(MSECS)) + b":" + draw(st.sampled_from(SERIALS)) + b")"
    return head + draw(st.sampled_from([b": ", b":", b" ", b"): "[2:]])) \
        + draw(st.sampled_from(BODIES))


lines = st.lists(st.one_of(record_line(), record_line(), record_line(),
                           st.binary(max_size=40)), min_size=1, max_size=25)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines, st.lists(st.integers(min_value=0), max_size=3))
def test_both_sources_agree_on_hostile_headers_and_bodies(records: list[bytes],
                                                          cuts: list[int]) -> None:
    data = b"\n".join(records) + b"\n"
    assert disagreement(cut(data, cuts)) == ""


_SEEDS = load_seeds(SHARED, generated=40)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(min_value=0, max_value=2**32), min_size=1, max_size=4),
       st.lists(st.integers(min_value=0), max_size=3))
def test_both_sources_agree_on_mutated_real_events(seeds: list[int], cuts: list[int]) -> None:
    """Real events of ../shared/logs (and generated ones), mutated as the long
    fuzz run mutates them, several in a row, cut into reads anywhere."""
    mutator = Mutator(random.Random(), _SEEDS)
    data = b""
    for seed in seeds:
        mutator.rng.seed(seed)
        data += b"\n".join(mutator()) + b"\n"
    assert disagreement(cut(data, cuts)) == ""
