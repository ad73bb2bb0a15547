"""A parsed $filter: comparisons of a property with a literal, joined by `and` / `or`.

The query layer (openpim.graph.query) compiles this tree to SQL or evaluates it on in-memory
items; render_filter gives it back as canonical text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal as TypingLiteral

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")


LiteralKind = TypingLiteral["string", "guid", "datetime", "int", "bool", "null"]
CompareOp = TypingLiteral["eq", "ne", "gt", "ge", "lt", "le"]


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
