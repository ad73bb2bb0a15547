"""All OData options of one request, checked against the ones its endpoint takes.

An option the endpoint does not take is refused rather than ignored (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from openpim.graph.odata.errors import ODataError
from openpim.graph.odata.filter_parser import parse_filter
from openpim.graph.odata.filter_tree import Node
from openpim.graph.odata.select_expand import Expand, parse_expand, parse_select

MAX_TOP = 999
DEFAULT_TOP = 100
MAX_SKIPTOKEN_LENGTH = 512


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
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TOP:
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
