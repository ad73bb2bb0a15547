"""The OData query subset the Graph-compatible API understands, parsed into plain values.

$filter is tokenised and parsed by a small recursive-descent parser into an AST (comparisons
joined by `and` / `or`, with parentheses) that the query layer compiles to SQL or evaluates on
in-memory items. Everything outside the subset is refused with an ODataError (a Graph-shaped
400), never ignored: a client that asks for `$orderby` and silently gets another order would
draw wrong conclusions.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal as TypingLiteral

from openpim.graph.errors import GraphError

MAX_FILTER_LENGTH = 2000
MAX_TOKENS = 400
MAX_DEPTH = 20
MAX_TOP = 999
DEFAULT_TOP = 100
MAX_SKIPTOKEN_LENGTH = 512

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
# Options OData defines that this API does not implement: refused by name so the client knows.
_KNOWN_UNSUPPORTED = frozenset(
    {
        "$orderby",
        "$search",
        "$skip",
        "$format",
        "$apply",
        "$compute",
        "$levels",
        "$index",
        "$schemaversion",
        "$deltatoken",
        "$id",
    }
)

LiteralKind = TypingLiteral["string", "guid", "datetime", "int", "bool", "null"]
CompareOp = TypingLiteral["eq", "ne", "gt", "ge", "lt", "le"]


class ODataError(GraphError):
    """A query option is malformed (BadRequest) or outside the supported subset."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(400, "Request_UnsupportedQuery" if unsupported else "BadRequest", message)


# --- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return "/".join(self.path)


@dataclass(frozen=True)
class Lit:
    kind: LiteralKind
    value: str | uuid.UUID | datetime | int | bool | None


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    prop: Prop
    value: Lit


@dataclass(frozen=True)
class BoolOp:
    op: TypingLiteral["and", "or"]
    left: Node
    right: Node


Node = Compare | BoolOp


# --- tokens ---------------------------------------------------------------------------------

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
  | (?P<number>-?\d+(?![\w.-]))
  | (?P<path>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
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


def parse_offset_datetime(text: str, *, what: str) -> datetime:
    """An ISO-8601 datetime that carries its UTC offset; naive ones are refused (zone unknown)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ODataError(f"{what} {text!r} is not an ISO-8601 datetime.") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ODataError(
            f"{what} {text!r} has no UTC offset; write it as e.g. 2026-01-05T09:00:00Z "
            "(a '+' offset in a URL must be encoded as %2B)."
        )
    return value


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


def render_filter(node: Node) -> str:
    """The canonical text of a filter (parse_filter(render_filter(n)) == n)."""
    if isinstance(node, BoolOp):
        return f"({render_filter(node.left)}) {node.op} ({render_filter(node.right)})"
    return f"{node.prop.name} {node.op} {render_literal(node.value)}"


def render_literal(lit: Lit) -> str:
    if lit.kind == "string":
        assert isinstance(lit.value, str)
        return "'" + lit.value.replace("'", "''") + "'"
    if lit.kind == "datetime":
        assert isinstance(lit.value, datetime)
        return lit.value.isoformat()
    if lit.kind == "bool":
        return "true" if lit.value else "false"
    if lit.kind == "null":
        return "null"
    return str(lit.value)


def properties(node: Node) -> Iterable[Prop]:
    if isinstance(node, BoolOp):
        yield from properties(node.left)
        yield from properties(node.right)
    else:
        yield node.prop


# --- $select and $expand --------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Expand:
    select: tuple[str, ...] | None = None
    expand: Mapping[str, Expand] = field(default_factory=dict)


def parse_select(text: str) -> tuple[str, ...]:
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name == "*":
            raise ODataError("$select=* is not supported; name the properties.", unsupported=True)
        if not _NAME.fullmatch(name):
            raise ODataError(f"$select names properties separated by commas, got {name!r}.")
    return tuple(dict.fromkeys(names))


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ODataError("$expand has an unbalanced ')'.")
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth != 0:
        raise ODataError("$expand has an unclosed '('.")
    parts.append(text[start:])
    return parts


def parse_expand(text: str, _depth: int = 0) -> dict[str, Expand]:
    if _depth > 3:
        raise ODataError("$expand may be nested at most three levels deep.", unsupported=True)
    out: dict[str, Expand] = {}
    for raw in _split_top_level(text, ","):
        item = raw.strip()
        name, _, rest = item.partition("(")
        name = name.strip()
        if name == "*":
            raise ODataError(
                "$expand=* is not supported; name the relationships.", unsupported=True
            )
        if not _NAME.fullmatch(name):
            raise ODataError(f"$expand names relationships separated by commas, got {item!r}.")
        select: tuple[str, ...] | None = None
        nested: dict[str, Expand] = {}
        if rest:
            if not rest.endswith(")"):
                raise ODataError(f"$expand item {item!r} is malformed.")
            for option in _split_top_level(rest[:-1], ";"):
                key, eq, value = option.strip().partition("=")
                if not eq:
                    raise ODataError(f"$expand option {option!r} is malformed.")
                if key == "$select":
                    select = parse_select(value)
                elif key == "$expand":
                    nested = parse_expand(value, _depth + 1)
                else:
                    raise ODataError(
                        f"{key} inside $expand is not supported (only $select and $expand).",
                        unsupported=True,
                    )
        out[name] = Expand(select=select, expand=nested)
    return out


# --- all options of a request ---------------------------------------------------------------


@dataclass(frozen=True)
class QueryOptions:
    filter: Node | None = None
    select: tuple[str, ...] | None = None
    expand: Mapping[str, Expand] = field(default_factory=dict)
    top: int = DEFAULT_TOP
    count: bool = False
    skiptoken: str | None = None
    raw: tuple[tuple[str, str], ...] = ()


def parse_options(params: Iterable[tuple[str, str]], *, allowed: frozenset[str]) -> QueryOptions:
    """Parse the query string of one request. `allowed` names the options this endpoint takes."""
    seen: dict[str, str] = {}
    for key, value in params:
        if key in seen:
            raise ODataError(f"The query option {key} is given more than once.")
        seen[key] = value
    for key in seen:
        if key in allowed:
            continue
        if key in _KNOWN_UNSUPPORTED or (key.startswith("$") and key in _ALL_SUPPORTED):
            raise ODataError(f"The query option {key} is not supported here.", unsupported=True)
        raise ODataError(f"Unknown query option {key!r}.", unsupported=True)
    top = DEFAULT_TOP
    if "$top" in seen:
        text = seen["$top"].strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_TOP:
            raise ODataError(f"$top must be a whole number from 1 to {MAX_TOP}.")
        top = int(text)
    count = False
    if "$count" in seen:
        flag = seen["$count"].strip().lower()
        if flag not in ("true", "false"):
            raise ODataError("$count must be true or false.")
        count = flag == "true"
    token = seen.get("$skiptoken")
    if token is not None and not 0 < len(token) <= MAX_SKIPTOKEN_LENGTH:
        raise ODataError("$skiptoken is not one this server handed out.")
    return QueryOptions(
        filter=parse_filter(seen["$filter"]) if "$filter" in seen else None,
        select=parse_select(seen["$select"]) if "$select" in seen else None,
        expand=parse_expand(seen["$expand"]) if "$expand" in seen else {},
        top=top,
        count=count,
        skiptoken=token,
        raw=tuple((k, v) for k, v in seen.items() if k != "$skiptoken"),
    )


_ALL_SUPPORTED = frozenset({"$filter", "$select", "$expand", "$top", "$count", "$skiptoken"})
LIST_OPTIONS = _ALL_SUPPORTED
ENTITY_OPTIONS = frozenset({"$select", "$expand"})
