"""Brute-force reference for `sequence` and `sample` matching, for tests only.

Slow and obvious, and on purpose not the engine's algorithm: it reads the
whole stream first and replays Elasticsearch's matcher stage by stage (all
events of step 1, then of step 2...), keeping every candidate sequence in
lists, then checks missing events against the whole stream. Step
conditions are the compiled predicates evaluated plainly (no index), and
join keys are read here from the `by` fields of the syntax tree, not by the
engine's key functions.

Time is integer milliseconds per host, taken as the engine takes it (a
host's clock never runs backwards). Each host is its own stream.
"""

from __future__ import annotations

import itertools
from typing import Any, Optional, Sequence

from audisp_eql.eql import ast
from audisp_eql.engine.clock import event_time

Document = dict[str, Any]
NOTHING = object()


def _value_at(doc: Document, path: Sequence[str]) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    return NOTHING


def key_choices(doc: Document, fields: Sequence[ast.Field]) -> list[tuple]:
    """Every join key of `doc` for these fields (Elasticsearch: absent, null or
    [] is no key unless ?field; lists give each distinct value; null in lists dropped)."""
    per_field = []
    for field in fields:
        raw = _value_at(doc, field.path)
        items = raw if isinstance(raw, list) else [raw]
        values: list = []
        for item in items:
            if item is None:
                continue
            value = _comparable(item)
            if value is not NOTHING and value not in values:
                values.append(value)
        if not values:
            if not field.optional:
                return []
            values = [None]
        per_field.append(values)
    return list(itertools.product(*per_field))


def matches_condition(compiled_event: Any, doc: Document) -> bool:
    category = compiled_event.category
    if category is not None:
        categories = _value_at(doc, ("event", "category"))
        categories = categories if isinstance(categories, list) else [categories]
        if category not in categories:
            return False
    return bool(compiled_event.predicate(doc))


def host_streams(docs: Sequence[Document]) -> dict[Any, list[tuple[int, Document]]]:
    """Per host (host.id, else host.name), its documents with their time in ms."""
    streams: dict[Any, list[tuple[int, Document]]] = {}
    clocks: dict[Any, float] = {}
    for doc in docs:
        host = _value_at(doc, ("host", "id"))
        if not isinstance(host, str):
            name = _value_at(doc, ("host", "name"))
            host = name if isinstance(name, str) else None
        now = event_time(doc)
        clock = clocks.get(host)
        if now is None or (clock is not None and now < clock):
            now = clock if clock is not None else 0.0
        clocks[host] = now
        streams.setdefault(host, []).append((int(round(now * 1000)), doc))
    return streams


class _Step:
    def __init__(self, condition: Any, fields: tuple, missing: bool) -> None:
        self.condition, self.fields, self.missing = condition, fields, missing


def _steps(query: ast.SequenceQuery, compile_event: Any) -> tuple[list[_Step], Optional[_Step]]:
    steps = []
    for sub in query.steps:
        for _ in range(sub.runs or 1):
            steps.append(_Step(compile_event(sub.event), tuple(query.by) + tuple(sub.by),
                               sub.missing))
    until = None
    if query.until is not None:
        until = _Step(compile_event(query.until.event), tuple(query.by) + tuple(query.until.by),
                      False)
    return steps, until


def reference_sequences(query: ast.SequenceQuery, compile_event: Any, docs: Sequence[Document],
                        span_ms: int) -> list[tuple[Document, ...]]:
    """Every match, as Elasticsearch's replay finds it, ordered by the arrival
    of its last event (then by its first events)."""
    steps, until = _steps(query, compile_event)
    found: list[tuple[int, tuple[int, ...], tuple[Document, ...]]] = []
    for stream in host_streams(docs).values():
        found.extend(_one_host(steps, until, stream, span_ms))
    offsets = {id(doc): n for n, doc in enumerate(docs)}
    found.sort(key=lambda f: ([offsets[id(d)] for d in f[2][::-1]]))
    return [f[2] for f in found]


def _one_host(steps: list[_Step], until: Optional[_Step], stream: list[tuple[int, Document]],
              span: int) -> list[tuple[int, tuple[int, ...], tuple[Document, ...]]]:
    positive = [s for s in steps if not s.missing]
    # (ordinal, key) of every event matching each step, in ordinal order
    hits = [[(o, key) for o, (_, doc) in enumerate(stream)
             if matches_condition(step.condition, doc) for key in key_choices(doc, step.fields)]
            for step in positive]
    untils: dict[tuple, list[int]] = {}
    if until is not None:
        for o, (_, doc) in enumerate(stream):
            if matches_condition(until.condition, doc):
                for key in key_choices(doc, until.fields):
                    untils.setdefault(key, []).append(o)
    # lists[i][key]: candidate sequences (tuples of ordinals) ending at step i
    lists: list[dict[tuple, list[tuple[int, ...]]]] = [dict() for _ in positive]
    for o, key in hits[0]:
        lists[0].setdefault(key, []).append((o,))
    done: list[tuple[tuple, tuple[int, ...]]] = []
    for i in range(1, len(positive)):
        for o, key in hits[i]:
            candidates = lists[i - 1].get(key, [])
            before = [n for n, seq in enumerate(candidates) if seq[-1] < o]
            if not before:
                continue
            chosen = candidates[before[-1]]
            del candidates[:before[-1] + 1]
            if stream[o][0] - stream[chosen[0]][0] > span:
                continue
            cut = [u for u in untils.get(key, []) if u < o]
            if cut and cut[-1] >= chosen[-1]:
                continue
            extended = chosen + (o,)
            if i == len(positive) - 1:
                done.append((key, extended))
            else:
                lists[i].setdefault(key, []).append(extended)
    if len(positive) == 1:
        done = [(key, (o,)) for o, key in hits[0]]
    out = []
    for key, seq in done:
        if _missing_ok(steps, stream, key, seq, span):
            out.append((seq[-1], seq, tuple(stream[o][1] for o in seq)))
    return out


def _missing_ok(steps: list[_Step], stream: list[tuple[int, Document]], key: tuple,
                seq: tuple[int, ...], span: int) -> bool:
    times = [stream[o][0] for o in seq]
    positions = [n for n, s in enumerate(steps) if not s.missing]
    leading, trailing = [], []

    def candidates(step: _Step) -> list[int]:
        return [t for t, doc in stream if matches_condition(step.condition, doc)
                and key in key_choices(doc, step.fields)]
    for n, step in enumerate(steps):
        if not step.missing:
            continue
        if n < positions[0]:
            leading += [t for t in candidates(step) if t < times[0]]
        elif n > positions[-1]:
            trailing += [t for t in candidates(step) if t > times[-1]]
        else:
            gap = sum(p < n for p in positions)   # between positive gap-1 and gap
            if any(times[gap - 1] < t < times[gap] for t in candidates(step)):
                return False
    lead = max(leading) if leading else None
    trail = min(trailing) if trailing else None
    has_leading = any(s.missing and n < positions[0] for n, s in enumerate(steps))
    has_trailing = any(s.missing and n > positions[-1] for n, s in enumerate(steps))
    if has_trailing and has_leading:
        return lead is None or trail is None or trail - lead > span
    if has_trailing:
        return trail is None or trail - times[0] > span
    return lead is None or times[-1] - lead > span


def reference_samples(query: ast.SampleQuery, compile_event: Any, docs: Sequence[Document],
                      horizon_ms: int) -> list[tuple[Any, tuple, int]]:
    """(host, key, time in ms) of every sample emitted, in order: after each
    event, a key (not resting) with one distinct event per filter among its
    candidates within the horizon gives a sample; its candidates are cleared
    and the key rests for the horizon. Every candidate is kept here."""
    filters = [(compile_event(s.event), tuple(query.by) + tuple(s.by)) for s in query.steps]
    out = []
    for host, stream in host_streams(docs).items():
        candidates: dict[tuple, list[list[tuple[int, int]]]] = {}
        resting: dict[tuple, int] = {}
        for o, (now, doc) in enumerate(stream):
            for j, (condition, fields) in enumerate(filters):
                if not matches_condition(condition, doc):
                    continue
                for key in key_choices(doc, fields):
                    if key in resting and now - resting[key] <= horizon_ms:
                        continue
                    lists = candidates.setdefault(key, [[] for _ in filters])
                    if o not in [c for _, c in lists[j]]:
                        lists[j].append((now, o))
                    live = [[c for t, c in filt if now - t <= horizon_ms] for filt in lists]
                    if any(len(set(choice)) == len(choice) for choice in itertools.product(*live)):
                        out.append((host, key, now))
                        resting[key] = now
                        del candidates[key]
    return out
