"""Running the OData subset: $filter as SQL or over in-memory items, and keyset pages.

Each collection declares the properties it can be filtered on (Field: their type and the column
or constant behind them). A filter naming anything else is refused.

Pages are keyset pages: the $skiptoken carries the sort key of the last item handed out, and
the next page starts strictly after it (`(k1, k2) > (v1, v2)` on an index), so page 10,000 of a
million schedules costs what page 1 costs and stays stable while rows are added. NULL semantics
match in SQL and in memory: `ne` is true against a missing value, ordering comparisons false.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import Session

from openpim.graph.odata.errors import ODataError
from openpim.graph.odata.filter_tree import BoolOp, Compare, Lit, Node
from openpim.graph.odata.query_options import QueryOptions
from openpim.graph.values import guid_or_none
from openpim.kit.pagination import cursor_instant, cursor_number

FieldKind = Literal["guid", "string", "datetime", "bool", "int"]
_NO_CONSTANT = object()
_ORDERED: frozenset[FieldKind] = frozenset({"string", "datetime", "int"})
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
T = TypeVar("T")


@dataclass(frozen=True)
class Field:
    kind: FieldKind
    # A column or ORM attribute (InstrumentedAttribute); None for in-memory collections.
    column: Any = None
    # Every item has this value (directoryScopeId is always "/"): compared without SQL.
    constant: Any = _NO_CONSTANT
    # Graph value -> stored value, for enums stored under other names (userType Member).
    stored: Mapping[str, Any] | None = None
    # Stored lowercase (user principal names): literals are lowered before comparing.
    lower: bool = False


Fields = Mapping[str, Field]


def _unsupported_property(name: str, fields: Fields) -> ODataError:
    known = ", ".join(sorted(fields)) or "none"
    return ODataError(
        f"Filtering on {name!r} is not supported here; supported properties: {known}.",
        unsupported=True,
    )


def _coerce(node: Compare, field: Field) -> Any:
    """The literal as a value of the field's type (Graph-level, before `stored` mapping)."""
    lit: Lit = node.value
    name = node.prop.name
    if lit.kind == "null":
        if node.op not in ("eq", "ne"):
            raise ODataError(f"Only eq and ne compare {name} with null.")
        return None
    if node.op not in ("eq", "ne") and field.kind not in _ORDERED:
        raise ODataError(f"{name} supports only eq and ne.", unsupported=True)
    value = lit.value
    if field.kind == "guid":
        if lit.kind == "guid":
            return value
        parsed = guid_or_none(value) if isinstance(value, str) else None
        if parsed is None:
            raise ODataError(f"{name} is a GUID; {value!r} is not one.")
        return parsed
    if field.kind == "string":
        if lit.kind not in ("string", "guid"):
            raise ODataError(f"{name} is a string; quote the value ('...').")
        text = str(value)
        return text.lower() if field.lower else text
    if field.kind == "datetime":
        if lit.kind != "datetime":
            raise ODataError(f"{name} is a datetime; give one such as 2026-01-05T09:00:00Z.")
        return value
    if field.kind == "bool":
        if lit.kind != "bool":
            raise ODataError(f"{name} is true or false.")
        return value
    if lit.kind == "int" or (isinstance(value, str) and value.isascii() and value.isdigit()):
        number = int(value)  # type: ignore[arg-type]
        if not -(2**63) <= number < 2**63:
            raise ODataError(f"{name} is a number of at most 64 bits.")
        return number
    raise ODataError(f"{name} is a number.")


def _compare_py(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    return _PY_OPS[op](left, right)


# --- SQL ------------------------------------------------------------------------------------


def to_sql(node: Node, fields: Fields) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        left, right = to_sql(node.left, fields), to_sql(node.right, fields)
        return (left & right) if node.op == "and" else (left | right)
    field = fields.get(node.prop.name)
    if field is None:
        raise _unsupported_property(node.prop.name, fields)
    value = _coerce(node, field)
    if field.constant is not _NO_CONSTANT:
        return true() if _compare_py(node.op, field.constant, value) else false()
    column: ColumnElement[Any] = field.column
    assert column is not None, node.prop.name
    if field.stored is not None and value is not None:
        if value not in field.stored:
            return false() if node.op == "eq" else true() if node.op == "ne" else false()
        value = field.stored[value]
    if value is None:
        return column.is_(None) if node.op == "eq" else column.is_not(None)
    bound = literal(value, type_=column.type)
    if node.op == "eq":
        return column == bound
    if node.op == "ne":
        return or_(column.is_(None), column != bound)
    comparisons: dict[str, ColumnElement[bool]] = {
        "gt": column > bound,
        "ge": column >= bound,
        "lt": column < bound,
        "le": column <= bound,
    }
    return comparisons[node.op]


# --- in memory ------------------------------------------------------------------------------


def _lookup(item: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = item
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _item_value(raw: Any, kind: FieldKind) -> Any:
    if raw is None:
        return None
    if kind == "guid":
        return guid_or_none(str(raw))
    if kind == "datetime":
        return datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    return raw


def matches(node: Node, item: Mapping[str, Any], fields: Fields) -> bool:
    """Evaluate a filter on one Graph-shaped item (for small collections built in memory)."""
    if isinstance(node, BoolOp):
        if node.op == "and":
            return matches(node.left, item, fields) and matches(node.right, item, fields)
        return matches(node.left, item, fields) or matches(node.right, item, fields)
    field = fields.get(node.prop.name)
    if field is None:
        raise _unsupported_property(node.prop.name, fields)
    value = _coerce(node, field)
    raw = (
        field.constant
        if field.constant is not _NO_CONSTANT
        else _item_value(_lookup(item, node.prop.path), field.kind)
    )
    if field.lower and isinstance(raw, str):
        raw = raw.lower()
    return _compare_py(node.op, raw, value)


def check_filter(node: Node | None, fields: Fields) -> None:
    """Validate a filter against the fields without running it (before any database work)."""
    if node is not None:
        matches(node, {}, fields)


# --- keyset pages ---------------------------------------------------------------------------

KeyKind = Literal["uuid", "datetime", "str", "int"]


@dataclass(frozen=True)
class Keyset:
    """The sort key of a collection: (column, attribute on the row, kind) ..., one direction."""

    keys: tuple[tuple[Any, str, KeyKind], ...]
    descending: bool = False


def _bad_token() -> ODataError:
    return ODataError("$skiptoken is not one this server handed out.")


def encode_token(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str, kinds: Sequence[KeyKind]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain = json.loads(raw)
    except (ValueError, binascii.Error):
        raise _bad_token() from None
    if not isinstance(plain, list) or len(plain) != len(kinds):
        raise _bad_token()
    out: list[Any] = []
    for text, kind in zip(plain, kinds, strict=True):
        if not isinstance(text, str):
            raise _bad_token()
        try:
            if kind == "uuid":
                out.append(uuid.UUID(text))
            elif kind == "datetime":
                out.append(cursor_instant(text))
            elif kind == "int":
                out.append(cursor_number(text))
            else:
                out.append(text)
        except ValueError:
            raise _bad_token() from None
    return out


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None
    count: int | None = None


def sql_page(
    session: Session, statement: Select[Any], keyset: Keyset, opts: QueryOptions
) -> Page[Any]:
    """One page of `statement` (a select of one ORM entity) in keyset order after $skiptoken."""
    columns = [column for column, _, _ in keyset.keys]
    count = None
    if opts.count:
        count = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    if opts.skiptoken:
        after = decode_token(opts.skiptoken, [kind for _, _, kind in keyset.keys])
        bounds = [literal(v, type_=c.type) for c, v in zip(columns, after, strict=True)]
        left: Any = columns[0] if len(columns) == 1 else tuple_(*columns)
        right: Any = bounds[0] if len(bounds) == 1 else tuple_(*bounds)
        statement = statement.where(left < right if keyset.descending else left > right)
    order = [c.desc() if keyset.descending else c.asc() for c in columns]
    rows = list(session.scalars(statement.order_by(*order).limit(opts.top + 1)))
    items = rows[: opts.top]
    token = None
    if len(rows) > opts.top:
        token = encode_token([getattr(items[-1], attr) for _, attr, _ in keyset.keys])
    return Page(items, token, count)


def memory_page(
    items: Sequence[Mapping[str, Any]],
    fields: Fields,
    opts: QueryOptions,
    key: Callable[[Mapping[str, Any]], tuple[str, ...]],
) -> Page[Mapping[str, Any]]:
    """Filter and page a small collection built in memory, in `key` order."""
    chosen = [i for i in items if opts.filter is None or matches(opts.filter, i, fields)]
    chosen.sort(key=key)
    count = len(chosen) if opts.count else None
    if opts.skiptoken:
        after = tuple(decode_token(opts.skiptoken, ["str"] * len(key(chosen[0]))) if chosen else ())
        chosen = [i for i in chosen if key(i) > after]
    page = chosen[: opts.top]
    token = encode_token(key(page[-1])) if len(chosen) > opts.top else None
    return Page(page, token, count)
