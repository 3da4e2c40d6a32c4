"""Elasticsearch EQL for audisp-eql: parse a query, compile it to a predicate.

    query = parse_query(text)          # EqlSyntaxError(message, line, col)
    compiled = compile_query(query)    # EqlUnsupported / EqlCompileError
    compiled.predicate(doc) -> bool    # doc: nested ECS dict (event queries)

A sequence or sample compiles to a CompiledSequence / CompiledSample: each
step's condition compiled as an event query, and its join keys; matching
them over a stream is the engine's job (engine/sequence.py, engine/sample.py).
"""

from __future__ import annotations

from .ast import EventQuery, Query, SampleQuery, SequenceQuery
from .compile import CompiledQuery, compile_query
from .errors import EqlCompileError, EqlError, EqlSyntaxError, EqlUnsupported
from .grammar import parse_query
from .sequence import CompiledSample, CompiledSequence

__all__ = [
    "CompiledQuery", "CompiledSample", "CompiledSequence", "EqlCompileError", "EqlError", "EqlSyntaxError", "EqlUnsupported",
    "EventQuery", "Query", "SampleQuery", "SequenceQuery", "compile_query", "parse_query",
]
