"""Errors raised by the EQL engine; all derive from EqlError."""

from __future__ import annotations


class EqlError(Exception):
    """Any problem with an EQL query."""


class EqlSyntaxError(EqlError):
    """The query text does not parse.

    `line` and `col` are 1-based and relative to the query text; the rule
    loader adds the file name and the query's offset within that file.
    """

    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(f"line {line}, column {col}: {message}")
        self.message = message
        self.line = line
        self.col = col


class EqlCompileError(EqlError):
    """The query parses but cannot be compiled (bad regex, unknown function...)."""


class EqlUnsupported(EqlError):
    """The query is valid EQL that this engine cannot evaluate yet (sequence, sample)."""
