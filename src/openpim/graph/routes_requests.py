"""/v1.0 roleAssignmentScheduleRequests and roleEligibilityScheduleRequests.

POST runs the action through the membership service (graph.actions). With isValidationOnly the
whole operation runs, every rule included, and its transaction is rolled back: the answer says
what would have happened and nothing is stored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from openpim.api.deps import (
    READER,
    REQUESTER_OR_MANAGER,
    SELF_OR_READER,
    SIGNED_IN,
    CallerDep,
    access,
)
from openpim.api.scope import directory_of, user_of
from openpim.assignments import service as membership
from openpim.assignments.models import MemberType, RoleRequest
from openpim.graph import actions, shapes
from openpim.graph.actions import Kind
from openpim.graph.errors import bad_request, not_found, reject_unstorable
from openpim.graph.odata.query_options import parse_options
from openpim.graph.query import Keyset
from openpim.graph.values import guid_or_none
from openpim.graph.web import (
    COUNT_OPTIONS,
    entity_options,
    entity_response,
    expand_principal_and_role,
    graph_router,
    memory_collection,
    options,
    sql_collection,
)
from openpim.kit.context import Ctx

router = graph_router()

EXPANDABLE = ("principal", "roleDefinition")
KEYSET = Keyset(
    ((RoleRequest.created_at, "created_at", "datetime"), (RoleRequest.id, "id", "uuid")),
    descending=True,
)
_FUNCTION = re.compile(r"filterByCurrentUser\(on=(?:'(\w+)'|(\w+))\)")
_ON = ("principal", "approver", "createdBy")


class _ValidationOnly(Exception):
    """Carries the answer out of a unit of work that must roll back."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("validation only")
        self.item = item


def _member(kind: Kind) -> MemberType:
    return MemberType.ACTIVE if kind == "assignment" else MemberType.ELIGIBLE


def _base(kind: Kind) -> str:
    name = (
        "roleAssignmentScheduleRequests"
        if kind == "assignment"
        else ("roleEligibilityScheduleRequests")
    )
    return f"roleManagement/directory/{name}"


def _shape(kind: Kind) -> Any:
    return lambda row: shapes.schedule_request(row, kind)


def _list(
    request: Request, caller: CallerDep, kind: Kind, count_only: bool, on: str | None
) -> Response:
    opts = options(
        request,
        fields=shapes.REQUEST_FIELDS,
        expandable=EXPANDABLE,
        allowed=COUNT_OPTIONS
        if count_only
        else frozenset({"$filter", "$select", "$expand", "$top", "$count", "$skiptoken"}),
    )
    context = _base(kind) if on is None else f"Collection({shapes.REQUEST_TYPES[kind][1:]})"
    with caller.read() as ctx:
        directory_id = directory_of(ctx)
        if on == "approver":
            rows = [
                r
                for r in membership.awaiting_my_decision(ctx, directory_id)
                if r.member_type == _member(kind)
            ]
            items = [shapes.schedule_request(r, kind) for r in rows]
            if opts.expand:
                expand_principal_and_role(ctx, items, opts.expand)
            return memory_collection(
                request,
                opts,
                items=items,
                fields=shapes.REQUEST_FIELDS,
                key=lambda i: (str(i["createdDateTime"]), str(i["id"])),
                context=context,
                count_only=count_only,
            )
        me = None if on is None else user_of(ctx)
        statement = membership.requests_statement(
            ctx,
            directory_id,
            member_type=_member(kind),
            principal_id=me if on == "principal" else None,
            requested_by_id=me if on == "createdBy" else None,
        )
        return sql_collection(
            request,
            ctx,
            opts,
            statement=statement,
            fields=shapes.REQUEST_FIELDS,
            keyset=KEYSET,
            shape=_shape(kind),
            context=context,
            count_only=count_only,
            expand=expand_principal_and_role,
        )


def _get(request: Request, caller: CallerDep, kind: Kind, key: str) -> Response:
    function = _FUNCTION.fullmatch(key)
    if function is not None:
        on = function.group(1) or function.group(2)
        if on not in _ON:
            raise bad_request(
                f"filterByCurrentUser takes on='principal', 'approver' or 'createdBy', not {on!r}."
            )
        return _list(request, caller, kind, False, on)
    opts = entity_options(request, expandable=EXPANDABLE)
    with caller.read() as ctx:
        row = _load(ctx, kind, key)
        item = shapes.schedule_request(row, kind)
        if opts.expand:
            expand_principal_and_role(ctx, [item], opts.expand)
        return entity_response(request, _base(kind), item, opts)


def _load(ctx: Ctx, kind: Kind, key: str) -> RoleRequest:
    request_id = guid_or_none(key)
    if request_id is None:
        raise not_found(f"Request {key!r} does not exist.")
    row = membership.get_request(ctx, directory_of(ctx), request_id)
    if row.member_type != _member(kind):
        raise not_found(f"Request {key!r} does not exist in {_base(kind)}.")
    return row


def _create(request: Request, caller: CallerDep, kind: Kind, body: Any) -> Response:
    parse_options(request.query_params.multi_items(), allowed=frozenset())
    reject_unstorable(body)
    parsed = actions.parse_body(body, kind)
    totp = request.headers.get(actions.TOTP_HEADER)
    validation_only = bool(parsed.is_validation_only)
    try:
        with caller.unit() as ctx:
            row = actions.execute(ctx, directory_of(ctx), kind, parsed, totp)
            item = shapes.schedule_request(row, kind, validation_only=validation_only)
            if validation_only:
                raise _ValidationOnly(item)
    except _ValidationOnly as done:
        item = done.item
    return entity_response(request, _base(kind), item, entity_options(request), status=201)


def _cancel(caller: CallerDep, kind: Kind, key: str) -> Response:
    with caller.unit() as ctx:
        row = _load(ctx, kind, key)
        membership.cancel(ctx, row.id)
    return Response(status_code=204)


def _register(target: APIRouter, kind: Kind) -> None:
    base = "/" + _base(kind)
    noun = shapes.REQUEST_TYPES[kind][len(shapes.NS) :]

    @target.get(base, summary=f"List {noun}s", openapi_extra=access(READER))
    def list_requests(request: Request, caller: CallerDep) -> Response:
        return _list(request, caller, kind, False, None)

    @target.get(f"{base}/$count", summary=f"Count {noun}s", openapi_extra=access(READER))
    def count_requests(request: Request, caller: CallerDep) -> Response:
        return _list(request, caller, kind, True, None)

    @target.post(
        base,
        status_code=201,
        summary=f"Create a {noun} (every action)",
        openapi_extra=access(SIGNED_IN),
    )
    def create_request(
        request: Request, caller: CallerDep, body: Annotated[Any, Body()] = None
    ) -> Response:
        return _create(request, caller, kind, body)

    @target.get(
        f"{base}/{{key}}",
        openapi_extra=access(SELF_OR_READER),
        summary=f"Get a {noun}, or filterByCurrentUser(on='principal'|'approver'|'createdBy')",
    )
    def get_request(key: str, request: Request, caller: CallerDep) -> Response:
        return _get(request, caller, kind, key)

    @target.post(
        f"{base}/{{key}}/cancel",
        status_code=204,
        summary=f"Cancel a pending {noun}",
        openapi_extra=access(REQUESTER_OR_MANAGER),
    )
    def cancel_request(key: str, request: Request, caller: CallerDep) -> Response:
        parse_options(request.query_params.multi_items(), allowed=frozenset())
        return _cancel(caller, kind, key)


_register(router, "assignment")
_register(router, "eligibility")
