"""pyparsing grammar of Elasticsearch EQL, producing the nodes of ast.py.

Precedence, loosest first: or, and, not, comparison / in / like / regex,
+ -, * / %, unary minus, primary.  After an operator the grammar commits
(pyparsing's `-`), so an error is reported where it happens, naming what was
expected there, instead of at some earlier backtracking point.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, List, Optional, Sequence

import pyparsing as pp

from . import ast
from .errors import EqlSyntaxError

KEYWORDS = ("and", "or", "not", "in", "like", "regex", "where", "by", "with", "until",
            "sequence", "sample", "true", "false", "null", "any", "of", "join", "descendant",
            "child", "event")
# Keywords that end an operand; a field may not be named like them.
_RESERVED = frozenset(KEYWORDS) - {"any", "of", "join", "descendant", "child", "event"}

_IDENT = r"(?:[A-Za-z_@][A-Za-z0-9_@\-]*(?<!-)|`(?:[^`]|``)+`)"
_STRING = r'"""[\s\S]*?"""|"(?:[^"\\\r\n]|\\.)*"'
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t",
            "b": "\b", "f": "\f"}
_ESCAPE = re.compile(r"\\(u\{([0-9A-Fa-f]{1,8})\}|.)", re.S)


def _kw(word: str) -> pp.Keyword:
    return pp.Keyword(word, ident_chars=pp.identbodychars + "@")


def _expect(element: pp.ParserElement, what: str) -> pp.ParserElement:
    """`element`, or a fatal error naming `what` at this very position."""
    def fail(text: str, loc: int, toks: pp.ParseResults) -> None:
        raise pp.ParseFatalException(text, loc, f"expected {what}")
    return element | pp.Empty().set_parse_action(fail)


def _decode_string(text: str, loc: int, toks: pp.ParseResults) -> str:
    token = toks[0]
    if token.startswith('"""'):
        return token[3:-3]  # raw string: no escapes at all
    body = token[1:-1]

    def replace(m: re.Match) -> str:
        if m.group(2) is not None:
            code = int(m.group(2), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise pp.ParseFatalException(text, loc + 1 + m.start(),
                                             f"invalid unicode escape \\u{{{m.group(2)}}}")
            return chr(code)
        char = m.group(1)
        if char in _ESCAPES:
            return _ESCAPES[char]
        raise pp.ParseFatalException(
            text, loc + 1 + m.start(),
            f"unknown escape sequence \\{char} (expected one of \\\\ \\\" \\n \\r \\t \\u{{...}})")
    return _ESCAPE.sub(replace, body)


def _string_list(text: str, loc: int, toks: pp.ParseResults) -> list:
    token: str = toks[0]
    return [[ast.Literal(_decode_string(text, loc + m.start(), [m.group(0)]))
             for m in re.finditer(_STRING, token)]]


def _field(text: str, loc: int, toks: pp.ParseResults) -> ast.Field:
    token: str = toks[0]
    optional = token.startswith("?")
    if optional:
        token = token[1:].lstrip()
    parts = re.findall(_IDENT, token)
    path = tuple(p[1:-1].replace("``", "`") if p.startswith("`") else p for p in parts)
    if len(path) == 1 and path[0] in _RESERVED and not token.startswith("`"):
        raise pp.ParseException(text, loc, f"keyword '{path[0]}' where a value was expected")
    return ast.Field(path, optional)


def _number(toks: pp.ParseResults) -> ast.Literal:
    token: str = toks[0]
    if re.fullmatch(r"-?\d+", token):
        return ast.Literal(int(token))
    return ast.Literal(float(token))


def _left_fold(node_type: type) -> Any:
    def action(toks: pp.ParseResults) -> Any:
        items = list(toks)
        result = items[0]
        for i in range(1, len(items), 2):
            result = node_type(items[i], result, items[i + 1])
        return result
    return action


def _negate(toks: pp.ParseResults) -> Any:
    operand = toks[0][1]
    if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
            and not isinstance(operand.value, bool):
        return ast.Literal(-operand.value)
    return ast.Arith("-", ast.Literal(0), operand)


def _call(text: str, loc: int, toks: pp.ParseResults) -> ast.Call:
    name, tilde, *args = toks
    return ast.Call(name, tuple(args), insensitive=bool(tilde), start=loc)


def _comparison(text: str, loc: int, toks: pp.ParseResults) -> Any:
    items = list(toks)
    if len(items) == 1:
        return items[0]
    left, op, rhs = items
    kind = op[0]
    if kind == "cmp":
        return ast.Compare(op[1], left, rhs, start=loc)
    values = tuple(rhs) if isinstance(rhs, list) else (rhs,)
    if kind == "in":
        return ast.InSet(left, values, insensitive=op[1], negated=op[2], start=loc)
    for value in values:
        if not isinstance(value.value, str):
            raise pp.ParseFatalException(text, loc, f"{op[1]} needs string patterns, "
                                                    f"got {value.value!r}")
    return ast.Match(op[1], left, tuple(v.value for v in values), insensitive=op[2], start=loc)


def _bool_chain(node_type: type) -> Any:
    def action(text: str, loc: int, toks: pp.ParseResults) -> Any:
        items = [t for t in toks if not isinstance(t, str)]
        return items[0] if len(items) == 1 else node_type(tuple(items), start=loc)
    return action


_EXTENT: dict = {}   # node type -> the grammar element that parses it (filled by _build)


def _build() -> pp.ParserElement:
    expr = pp.Forward().set_name("expression")

    string = pp.Regex(_STRING).set_name("string")
    string.set_parse_action(_decode_string)
    number = pp.Regex(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z0-9_])").set_name("number")
    number.set_parse_action(_number)
    constant = (
        _kw("true").set_parse_action(lambda: ast.Literal(True))
        | _kw("false").set_parse_action(lambda: ast.Literal(False))
        | _kw("null").set_parse_action(lambda: ast.Literal(None))
    )
    string_literal = string.copy().add_parse_action(lambda t: ast.Literal(t[0]))
    signed_number = pp.Regex(r"-\s*\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z0-9_])")
    signed_number.set_parse_action(lambda t: _number([t[0].replace(" ", "")]))
    literal = (string_literal | number | constant).set_name("literal")
    list_literal = (string_literal | number | signed_number | constant).set_name("literal")

    field = pp.Regex(rf"\?\s*{_IDENT}(?:\.{_IDENT})*|{_IDENT}(?:\.{_IDENT})*").set_name("field")
    field.set_parse_action(_field)
    close = _expect(pp.Suppress(")"), "')'")

    reserved = "|".join(sorted(_RESERVED))
    func_name = pp.Regex(rf"(?!(?:{reserved})\b)[A-Za-z_][A-Za-z0-9_]*(?=\s*~?\s*\()")
    call = (func_name + pp.Opt(pp.Literal("~"), default="") + pp.Suppress("(")
            + pp.Opt(pp.delimited_list(expr)) + close).set_name("function call")
    call.set_parse_action(_call)

    paren = pp.Suppress("(") + _expect(expr, "expression") + close
    primary = (call | field | literal | paren).set_name("value")

    unary = pp.Forward()
    unary <<= pp.Group(pp.Literal("-") + unary).set_parse_action(_negate) | primary
    operand = _expect(unary, "value")
    product = (unary + pp.ZeroOrMore(pp.one_of("* / %") + operand)).set_parse_action(
        _left_fold(ast.Arith))
    sum_ = (product + pp.ZeroOrMore(pp.Regex(r"[+\-]") + _expect(product, "value")))
    sum_.set_parse_action(_left_fold(ast.Arith))
    sum_.set_name("value")

    # Fast path for the corpus' long lists of plain strings: one regex token.
    string_list = pp.Regex(rf"\(\s*(?:{_STRING})(?:\s*,\s*(?:{_STRING}))*\s*\)")
    string_list.set_parse_action(_string_list)
    literals = pp.Group(pp.delimited_list(list_literal))
    value_list = string_list | (pp.Suppress("(") + _expect(literals, "literal values") + close)
    value_list.set_parse_action(lambda t: [list(t[0])]).set_name("list of values")
    cmp_op = pp.Regex(r"==|!=|<=|>=|<|>").set_parse_action(lambda t: [("cmp", t[0])])
    in_op = pp.Regex(r"(not\s+)?in(~?)(?![A-Za-z0-9_@])").set_parse_action(
        lambda t: [("in", t[0].endswith("~"), t[0].startswith("not"))])
    match_op = pp.Regex(r"(?:like|regex)~?(?![A-Za-z0-9_@])|:").set_parse_action(
        lambda t: [("match", "like" if t[0] == ":" else t[0].rstrip("~"),
                    t[0] == ":" or t[0].endswith("~"))])
    patterns = value_list | string_literal
    comparison = sum_ + pp.Opt(cmp_op + _expect(sum_, "value")
                               | in_op + _expect(value_list, "'(' and a list of values")
                               | match_op + _expect(patterns, "a string or a list of strings"))
    comparison.set_parse_action(_comparison)

    not_expr = pp.Forward()
    not_expr <<= (pp.Group(_kw("not") + _expect(not_expr, "condition")).set_parse_action(
        lambda text, loc, t: ast.Not(t[0][1], start=loc)) | comparison)
    and_expr = (not_expr + pp.ZeroOrMore(_kw("and") + _expect(not_expr, "condition")))
    and_expr.set_parse_action(_bool_chain(ast.And))
    or_expr = (and_expr + pp.ZeroOrMore(_kw("or") + _expect(and_expr, "condition")))
    or_expr.set_parse_action(_bool_chain(ast.Or))
    expr <<= or_expr

    category = (_kw("any").set_parse_action(lambda: [None])
                | pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*") | string).set_name("event category")
    event_query = (_expect(category, "event category (e.g. process) or any")
                   + _expect(_kw("where").suppress(), "'where'")
                   + _expect(expr, "condition")).set_parse_action(
        lambda t: ast.EventQuery(t[0], t[1]))

    by_clause = (_kw("by").suppress() + _expect(pp.Group(pp.delimited_list(sum_)), "join keys"))
    by_clause.set_parse_action(lambda t: [("by", tuple(t[0]))])
    integer = pp.Regex(r"\d+")
    runs = (_kw("with").suppress() + _kw("runs").suppress()
            + _expect(pp.Suppress("="), "'='") + _expect(integer, "number of runs"))
    runs.set_parse_action(lambda t: [("runs", int(t[0]))])
    subquery = (pp.Suppress("[") + event_query + _expect(pp.Suppress("]"), "']'")
                + pp.ZeroOrMore(by_clause | runs))
    subquery.set_parse_action(_subquery)
    first_subquery = _expect(subquery, "'[' and a subquery")
    timespan = pp.Regex(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?(?![A-Za-z0-9_])")
    maxspan = (_kw("with").suppress() + _expect(_kw("maxspan").suppress(), "'maxspan'")
               + _expect(pp.Suppress("="), "'='") + _expect(timespan, "time span (e.g. 30s)"))
    maxspan.set_parse_action(lambda t: [("maxspan", _timespan(t[0]))])
    until = (_kw("until").suppress() + _expect(subquery, "'[' and a subquery"))
    until.set_parse_action(lambda t: [("until", t[0])])
    sequence = (_kw("sequence").suppress() + pp.ZeroOrMore(by_clause | maxspan)
                + first_subquery + pp.ZeroOrMore(subquery) + pp.Opt(until))
    sequence.set_parse_action(_sequence)
    sample = (_kw("sample").suppress() + pp.Opt(by_clause) + first_subquery
              + pp.ZeroOrMore(subquery))
    sample.set_parse_action(lambda t: ast.SampleQuery(
        t[0][1] if t and isinstance(t[0], tuple) else (),
        tuple(s for s in t if isinstance(s, ast.SubQuery))))

    end = _expect(pp.StringEnd(), "'and', 'or', an operator or the end of the query")
    query = (sequence | sample | event_query) + end
    # Where a condition written at a known start ends (for `check`, which quotes it).
    _EXTENT.update({ast.Compare: comparison, ast.InSet: comparison, ast.Match: comparison,
                    ast.Call: comparison, ast.Not: not_expr, ast.And: and_expr,
                    ast.Or: or_expr})
    return query


def _timespan(text: str) -> tuple:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", text)
    assert m is not None  # the token regex above guarantees the shape
    amount = float(m.group(1)) if "." in m.group(1) else int(m.group(1))
    return (amount, m.group(2) or "ms")


def _subquery(toks: pp.ParseResults) -> ast.SubQuery:
    event, *clauses = toks
    by: tuple = ()
    runs: Optional[int] = None
    for kind, value in clauses:
        if kind == "by":
            by = value
        else:
            runs = value
    return ast.SubQuery(event, by, runs)


def _sequence(toks: pp.ParseResults) -> ast.SequenceQuery:
    by: tuple = ()
    maxspan = None
    steps: List[ast.SubQuery] = []
    until = None
    for item in toks:
        if isinstance(item, ast.SubQuery):
            steps.append(item)
        elif item[0] == "by":
            by = item[1]
        elif item[0] == "maxspan":
            maxspan = item[1]
        else:
            until = item[1]
    return ast.SequenceQuery(by, maxspan, tuple(steps), until)


_QUERY = _build()


_COMMENT_OR_STRING = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\r\n]|\\.)*"|//[^\n]*|/\*[\s\S]*?\*/')


def source_span(text: str, node: ast.Expr) -> Optional[tuple]:
    """(start, end) of the text `node` was parsed from in the query `text`, or
    None (a node the parser did not make, or not from this text). Parses
    again from the node's start: for messages only, never on the per-event path."""
    start = getattr(node, "start", None)
    element = _EXTENT.get(type(node))
    if start is None or element is None or start > len(text):
        return None
    blanked = _blank_comments(text)
    try:
        end = element.try_parse(blanked, start)
    except pp.ParseBaseException:
        return None
    while end > start and blanked[end - 1] in " \t\r\n":
        end -= 1
    return start, end


def _blank_comments(text: str) -> str:
    """Replace comments by spaces (newlines kept) so error positions stay true."""
    def blank(m: re.Match) -> str:
        token = m.group(0)
        if token.startswith('"'):
            return token
        return re.sub(r"[^\n]", " ", token)
    return _COMMENT_OR_STRING.sub(blank, text)


def _line_col(text: str, loc: int) -> tuple:
    line = text.count("\n", 0, loc) + 1
    col = loc - (text.rfind("\n", 0, loc) + 1) + 1
    return line, col


def _describe(text: str, loc: int) -> str:
    if loc >= len(text):
        return "end of query"
    token = re.match(r'"[^"\n]{0,20}"?|\w+|\S', text[loc:])
    return repr(token.group(0)) if token else "end of query"


@lru_cache(maxsize=2048)
def parse_query(text: str) -> ast.Query:
    """Parse one EQL query; raise EqlSyntaxError with line/col within `text`."""
    try:
        return _QUERY.parse_string(_blank_comments(text), parse_all=True)[0]
    except pp.ParseBaseException as err:
        loc = min(err.loc, len(text))
        # skip the whitespace pyparsing reports the error in front of
        while loc < len(text) and text[loc] in " \t\r\n":
            loc += 1
        line, col = _line_col(text, loc)
        message = err.msg or "syntax error"
        if message.startswith("Expected"):
            message = "expected" + message[len("Expected"):]
        raise EqlSyntaxError(f"{message}, found {_describe(text, loc)}", line, col) from None
    except RecursionError:
        raise EqlSyntaxError("query nested too deeply", 1, 1) from None


def parse_many(texts: Sequence[str]) -> List[ast.Query]:
    return [parse_query(t) for t in texts]
