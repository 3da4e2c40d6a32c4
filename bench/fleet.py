"""A collector's input, made here: the exec logs of many nodes, as a central
auditd hands them to its plugins (every record prefixed `node=NAME`), the
nodes' records interleaved record by record.

Each node's log comes from ../shared/tools/gen_audit_log.py (`--node NAME`,
its own seed), so figures compare across runs. Options make the harder cases
a collector meets: a per-node clock offset (skew between hosts), and events
whose records are split far apart by other nodes' records.

    python -m bench.fleet --nodes 50 --events 2000 --seed 1 --shared ../shared > fleet.log

Interleaving keeps each node's own order (what one audisp-remote connection
guarantees) and is seeded, so the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

_STAMP = re.compile(rb"msg=audit\((\d+)\.")


def node_names(count: int) -> list[str]:
    """Names like a fleet's: short and fully qualified, some with digits only."""
    names = []
    for i in range(count):
        kind = i % 3
        names.append(f"web{i:02d}.dc1.example.net" if kind == 0 else
                     f"db-{i:03d}" if kind == 1 else f"10.1.{i // 250}.{i % 250}")
    return names


def node_log(shared: Path, node: str, events: int, seed: int,
             clock_offset: int = 0) -> list[bytes]:
    """One node's record lines (with their newlines); timestamps moved by `clock_offset` s."""
    out = subprocess.run([sys.executable, str(shared / "tools" / "gen_audit_log.py"),
                          "--events", str(events), "--seed", str(seed), "--node", node],
                         check=True, capture_output=True).stdout
    lines = out.splitlines(keepends=True)
    if clock_offset:
        def shifted(match: "re.Match[bytes]") -> bytes:
            return b"msg=audit(%d." % (int(match.group(1)) + clock_offset)
        lines = [_STAMP.sub(shifted, line, count=1) for line in lines]
    return lines


def interleave(logs: Sequence[Sequence[bytes]], seed: int) -> bytes:
    """One stream of all nodes' lines: each next line from a node drawn at random
    (weighted by what it has left), each node's lines in their own order."""
    rng = random.Random(seed)
    positions = [0] * len(logs)
    order: list[int] = []
    for index, log in enumerate(logs):
        order.extend([index] * len(log))
    rng.shuffle(order)
    out: list[bytes] = []
    for index in order:
        out.append(logs[index][positions[index]])
        positions[index] += 1
    return b"".join(out)


def fleet_log(shared: Path, nodes: Iterable[str], events: int, seed: int = 1,
              clock_offsets: Optional[dict[str, int]] = None) -> bytes:
    """The interleaved logs of `nodes`, `events` exec events each."""
    offsets = clock_offsets or {}
    logs = [node_log(shared, node, events, seed + i, offsets.get(node, 0))
            for i, node in enumerate(nodes)]
    return interleave(logs, seed)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=50)
    p.add_argument("--events", type=int, default=1000, help="exec events per node")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skew", type=int, default=0,
                   help="node i's clock runs i*SKEW seconds ahead of node 0's")
    p.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = p.parse_args(argv)
    names = node_names(args.nodes)
    offsets = {name: i * args.skew for i, name in enumerate(names)}
    sys.stdout.buffer.write(fleet_log(args.shared, names, args.events, args.seed, offsets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
