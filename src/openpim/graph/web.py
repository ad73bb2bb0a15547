"""What every Graph route shares: query options, $expand and $select, collection bodies.

Collections answer {"@odata.context", ["@odata.count"], "value", ["@odata.nextLink"]}; the next
link repeats the request's own options with the new $skiptoken, so a client follows it without
knowing anything about the paging. Entities answer {"@odata.context": ".../$entity", ...}.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Select, func, select

from openpim.directory.models import User
from openpim.graph import shapes
from openpim.graph.errors import GraphRoute
from openpim.graph.odata.errors import ODataError
from openpim.graph.odata.query_options import (
    ENTITY_OPTIONS,
    LIST_OPTIONS,
    QueryOptions,
    parse_options,
)
from openpim.graph.odata.select_expand import Expand
from openpim.graph.query import (
    Fields,
    Keyset,
    Page,
    check_filter,
    matches,
    memory_page,
    sql_page,
    to_sql,
)
from openpim.graph.shapes import Item
from openpim.kit.context import Ctx
from openpim.roles.models import RoleDefinition

PREFIX = "/v1.0"
COUNT_OPTIONS = frozenset({"$filter"})
NO_EXPAND = LIST_OPTIONS - {"$expand"}


def graph_router() -> APIRouter:
    """A router whose routes answer errors in Graph's shape."""
    return APIRouter(route_class=GraphRoute)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def options(
    request: Request,
    *,
    fields: Fields | None = None,
    expandable: Iterable[str] = (),
    allowed: frozenset[str] = LIST_OPTIONS,
) -> QueryOptions:
    """Parse and validate the request's OData options before any database work."""
    opts = parse_options(request.query_params.multi_items(), allowed=allowed)
    if opts.filter is not None:
        check_filter(opts.filter, fields or {})
    allowed_expand = set(expandable)
    for name in opts.expand:
        if name not in allowed_expand:
            known = ", ".join(sorted(allowed_expand)) or "nothing"
            raise ODataError(
                f"$expand={name} is not supported here (expandable: {known}).", unsupported=True
            )
    return opts


def entity_options(request: Request, *, expandable: Iterable[str] = ()) -> QueryOptions:
    return options(request, expandable=expandable, allowed=ENTITY_OPTIONS)


def project(item: Item, select: Sequence[str] | None, expanded: Iterable[str] = ()) -> Item:
    """$select: keep the named properties (always @odata.type, id and what was expanded)."""
    if select is None:
        return item
    unknown = [name for name in select if name not in item]
    if unknown:
        raise ODataError(f"$select names unknown properties: {', '.join(unknown)}.")
    keep = {"@odata.type", "id", *select, *expanded}
    return {k: v for k, v in item.items() if k in keep}


def _check_flat(name: str, spec: Expand) -> None:
    if spec.expand:
        raise ODataError(f"$expand inside {name} is not supported.", unsupported=True)


def expand_principal_and_role(ctx: Ctx, items: list[Item], expand: Mapping[str, Expand]) -> None:
    """$expand=principal and/or roleDefinition on items carrying principalId/roleDefinitionId."""
    if "principal" in expand:
        spec = expand["principal"]
        _check_flat("principal", spec)
        ids = {uuid.UUID(i["principalId"]) for i in items}
        users = (
            {
                str(u.id): shapes.user(u)
                for u in ctx.session.scalars(select(User).where(User.id.in_(ids)))
            }
            if ids
            else {}
        )
        for item in items:
            found = users.get(item["principalId"])
            item["principal"] = project(found, spec.select) if found else None
    if "roleDefinition" in expand:
        spec = expand["roleDefinition"]
        _check_flat("roleDefinition", spec)
        role_ids = {uuid.UUID(i["roleDefinitionId"]) for i in items}
        roles = (
            {
                str(r.id): shapes.role_definition(r)
                for r in ctx.session.scalars(
                    select(RoleDefinition).where(RoleDefinition.id.in_(role_ids))
                )
            }
            if role_ids
            else {}
        )
        for item in items:
            found = roles.get(item["roleDefinitionId"])
            item["roleDefinition"] = project(found, spec.select) if found else None


def next_link(request: Request, opts: QueryOptions, token: str) -> str:
    query = urlencode([*opts.raw, ("$skiptoken", token)], quote_via=quote, safe="$")
    return f"{str(request.base_url).rstrip('/')}{request.url.path}?{query}"


def collection_response(
    request: Request, context: str, page: Page[Item], opts: QueryOptions
) -> JSONResponse:
    body: dict[str, Any] = {"@odata.context": f"{base_url(request)}/$metadata#{context}"}
    if page.count is not None:
        body["@odata.count"] = page.count
    body["value"] = [project(item, opts.select, opts.expand) for item in page.items]
    if page.next_token is not None:
        body["@odata.nextLink"] = next_link(request, opts, page.next_token)
    return JSONResponse(body)


def entity_response(
    request: Request, context: str, item: Item, opts: QueryOptions, status: int = 200
) -> JSONResponse:
    body = {
        "@odata.context": f"{base_url(request)}/$metadata#{context}/$entity",
        **project(item, opts.select, opts.expand),
    }
    return JSONResponse(body, status_code=status)


def count_response(count: int) -> Response:
    return PlainTextResponse(str(count))


def sql_collection(
    request: Request,
    ctx: Ctx,
    opts: QueryOptions,
    *,
    statement: Select[Any],
    fields: Fields,
    keyset: Keyset,
    shape: Callable[[Any], Item],
    context: str,
    count_only: bool = False,
    expand: Callable[[Ctx, list[Item], Mapping[str, Expand]], None] | None = None,
) -> Response:
    """A filtered keyset page of an ORM select, shaped, expanded and wrapped."""
    if opts.filter is not None:
        statement = statement.where(to_sql(opts.filter, fields))
    if count_only:
        total = ctx.session.scalar(select(func.count()).select_from(statement.subquery()))
        return count_response(int(total or 0))
    page = sql_page(ctx.session, statement, keyset, opts)
    items = [shape(row) for row in page.items]
    if expand is not None and opts.expand:
        expand(ctx, items, opts.expand)
    return collection_response(request, context, Page(items, page.next_token, page.count), opts)


def memory_collection(
    request: Request,
    opts: QueryOptions,
    *,
    items: list[Item],
    fields: Fields,
    key: Callable[[Mapping[str, Any]], tuple[str, ...]],
    context: str,
    count_only: bool = False,
) -> Response:
    if count_only:
        return count_response(
            sum(1 for i in items if opts.filter is None or matches(opts.filter, i, fields))
        )
    page = memory_page(items, fields, opts, key)
    shaped: Page[Item] = Page([dict(i) for i in page.items], page.next_token, page.count)
    return collection_response(request, context, shaped, opts)
