"""Elasticsearch EQL for audisp-eql: parse a query, compile it to a predicate.

    query = parse_query(text)          # EqlSyntaxError(message, line, col)
    compiled = compile_query(query)    # EqlUnsupported / EqlCompileError
    compiled.predicate(doc) -> bool    # doc: nested ECS dict
"""

from __future__ import annotations

from .ast import EventQuery, Query, SampleQuery, SequenceQuery
from .compile import CompiledQuery, compile_query
from .errors import EqlCompileError, EqlError, EqlSyntaxError, EqlUnsupported
from .grammar import parse_query

__all__ = [
    "CompiledQuery", "EqlCompileError", "EqlError", "EqlSyntaxError", "EqlUnsupported",
    "EventQuery", "Query", "SampleQuery", "SequenceQuery", "compile_query", "parse_query",
]
