"""$select (top-level property names) and $expand (relationships, $select and $expand inside)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from openpim.graph.odata.errors import ODataError

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
