"""$filter text to a filter_tree: a tokeniser and a small recursive-descent parser.

The limits bound the work a single request can ask for. Operators and functions outside the
subset are refused by name (Request_UnsupportedQuery) so the client knows what to change.

Grammar (lowest precedence first):

    expr       := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" expr ")" | comparison
    comparison := operand OP operand        one side a property path, the other a literal
    OP         := eq | ne | gt | ge | lt | le
    literal    := 'string' | GUID | datetime-with-offset | integer | true | false | null
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from openpim.graph.odata.errors import ODataError
from openpim.graph.odata.filter_tree import COMPARISONS, BoolOp, Compare, CompareOp, Lit, Node, Prop
from openpim.graph.values import parse_offset_datetime

MAX_FILTER_LENGTH = 2000
MAX_TOKENS = 400
MAX_DEPTH = 20


_DATETIME = (
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?(?![\w:.])"
)
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-])"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<colon>:)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>{_DATETIME})
  | (?P<date>\d{{4}}-\d{{2}}-\d{{2}}(?![\w:]))
  | (?P<guid>{_GUID})
  | (?P<number>-?[0-9]+(?![\w.-]))
  | (?P<path>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE | re.ASCII,  # \d and \w: ASCII digits and letters only
)
KEYWORDS = frozenset({*COMPARISONS, "and", "or", "not", "true", "false", "null"})


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ODataError(f"Invalid filter clause: unexpected {text[pos : pos + 12]!r}.")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
        if len(tokens) > MAX_TOKENS:
            raise ODataError(f"Invalid filter clause: more than {MAX_TOKENS} tokens.")
    return tokens


def _literal(token: _Token) -> Lit:
    if token.kind == "string":
        return Lit("string", token.text[1:-1].replace("''", "'"))
    if token.kind == "guid":
        return Lit("guid", uuid.UUID(token.text))
    if token.kind == "number":
        return Lit("int", int(token.text))
    if token.kind == "date":
        raise ODataError(
            f"Invalid filter clause: {token.text} is a date; give a time and a UTC offset, "
            f"for example {token.text}T00:00:00Z."
        )
    if token.kind == "datetime":
        return Lit("datetime", parse_offset_datetime(token.text, what="The filter's datetime"))
    if token.kind == "path" and token.text in ("true", "false"):
        return Lit("bool", token.text == "true")
    if token.kind == "path" and token.text == "null":
        return Lit("null", None)
    raise ODataError(f"Invalid filter clause: expected a value, got {token.text!r}.")


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise ODataError("Invalid filter clause: it ends too early.")
        self.i += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "path" and token.text in words:
            self.i += 1
            return token.text
        return None

    def expr(self) -> Node:
        node = self.and_expr()
        while self.keyword("or"):
            node = BoolOp("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.primary()
        while self.keyword("and"):
            node = BoolOp("and", node, self.primary())
        return node

    def primary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "lparen":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ODataError(f"Invalid filter clause: nested deeper than {MAX_DEPTH}.")
            self.take()
            node = self.expr()
            if self.take().kind != "rparen":
                raise ODataError("Invalid filter clause: a '(' is not closed.")
            self.depth -= 1
            return node
        if token is not None and token.kind == "path" and token.text == "not":
            raise ODataError("The 'not' operator is not supported.", unsupported=True)
        return self.comparison()

    def operand(self) -> Prop | Lit:
        token = self.take()
        if token.kind == "path" and token.text not in KEYWORDS:
            following = self.peek()
            if following is not None and following.kind == "lparen":
                if token.text.rsplit("/", 1)[-1] in ("any", "all"):
                    raise ODataError(
                        "Lambda operators (any, all) are not supported.", unsupported=True
                    )
                raise ODataError(
                    f"Filter functions such as {token.text}() are not supported.",
                    unsupported=True,
                )
            return Prop(tuple(token.text.split("/")))
        return _literal(token)

    def comparison(self) -> Compare:
        left = self.operand()
        token = self.take()
        if token.kind != "path" or token.text not in COMPARISONS:
            if token.kind == "path" and token.text in ("has", "in", "add", "sub", "any", "all"):
                raise ODataError(f"The '{token.text}' operator is not supported.", unsupported=True)
            raise ODataError(
                f"Invalid filter clause: expected one of {', '.join(COMPARISONS)} "
                f"after {_show(left)}, got {token.text!r}."
            )
        op: CompareOp = token.text  # type: ignore[assignment]
        right = self.operand()
        if isinstance(left, Prop) and isinstance(right, Lit):
            return Compare(op, left, right)
        if isinstance(left, Lit) and isinstance(right, Prop):
            return Compare(_FLIPPED[op], right, left)
        raise ODataError("Invalid filter clause: each comparison needs one property and one value.")


_FLIPPED: dict[CompareOp, CompareOp] = {
    "eq": "eq",
    "ne": "ne",
    "gt": "lt",
    "ge": "le",
    "lt": "gt",
    "le": "ge",
}


def _show(operand: Prop | Lit) -> str:
    return operand.name if isinstance(operand, Prop) else repr(operand.value)


def parse_filter(text: str) -> Node:
    if len(text) > MAX_FILTER_LENGTH:
        raise ODataError(f"$filter may be at most {MAX_FILTER_LENGTH} characters long.")
    tokens = _tokenize(text)
    if not tokens:
        raise ODataError("$filter is empty.")
    parser = _Parser(tokens)
    node = parser.expr()
    rest = parser.peek()
    if rest is not None:
        raise ODataError(f"Invalid filter clause: unexpected {rest.text!r} at {rest.pos}.")
    return node
