"""/v1.0 role{Eligibility,Assignment}Schedules and role{Eligibility,Assignment}ScheduleInstances.

A schedule is listed until it ends (current and future ones); an instance while it is live
(start <= now < end), the same read-time predicate the access check uses. Everyone may list their
own (filterByCurrentUser(on='principal')); the whole directory's are for PIM's readers: the
membership views decide (assignments.views.schedules_statement / get_schedule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import ColumnElement, or_

from openpim.api.deps import READER, SELF_OR_READER, CallerDep, access
from openpim.api.scope import directory_of, user_of
from openpim.assignments import service as membership
from openpim.assignments.models import Assignment, Eligibility
from openpim.graph import shapes
from openpim.graph.errors import bad_request, not_found
from openpim.graph.query import Fields, Keyset
from openpim.graph.values import guid_or_none
from openpim.graph.web import (
    COUNT_OPTIONS,
    entity_options,
    entity_response,
    expand_principal_and_role,
    graph_router,
    options,
    sql_collection,
)
from openpim.kit.context import Ctx

router = graph_router()

EXPANDABLE = ("principal", "roleDefinition")
_FUNCTION = re.compile(r"filterByCurrentUser\(on=(?:'(\w+)'|(\w+))\)")


@dataclass(frozen=True)
class Collection:
    name: str
    model: type[Eligibility] | type[Assignment]
    instance: bool
    shape: Callable[[Any], shapes.Item]
    fields: Fields
    keyset: Keyset

    @property
    def path(self) -> str:
        return f"roleManagement/directory/{self.name}"

    def live(self, ctx: Ctx) -> list[ColumnElement[bool]]:
        model = self.model
        conditions = [or_(model.end_at.is_(None), model.end_at > ctx.now)]
        if self.instance:
            conditions.append(model.start_at <= ctx.now)
        return conditions


def _collection(
    name: str,
    model: type[Eligibility] | type[Assignment],
    instance: bool,
    shape: Callable[[Any], shapes.Item],
) -> Collection:
    return Collection(
        name,
        model,
        instance,
        shape,
        shapes.schedule_fields(model, instance=instance),
        Keyset(((model.id, "id", "uuid"),)),
    )


COLLECTIONS = (
    _collection("roleEligibilitySchedules", Eligibility, False, shapes.eligibility_schedule),
    _collection("roleAssignmentSchedules", Assignment, False, shapes.assignment_schedule),
    _collection("roleEligibilityScheduleInstances", Eligibility, True, shapes.eligibility_instance),
    _collection("roleAssignmentScheduleInstances", Assignment, True, shapes.assignment_instance),
)


def _list(
    request: Request, caller: CallerDep, spec: Collection, count_only: bool, mine: bool
) -> Response:
    opts = options(
        request,
        fields=spec.fields,
        expandable=EXPANDABLE,
        allowed=COUNT_OPTIONS
        if count_only
        else frozenset({"$filter", "$select", "$expand", "$top", "$count", "$skiptoken"}),
    )
    with caller.read() as ctx:
        statement = membership.schedules_statement(
            ctx, directory_of(ctx), spec.model, principal_id=user_of(ctx) if mine else None
        ).where(*spec.live(ctx))
        context = f"Collection({shapes.NS[1:]}{_type_name(spec)})" if mine else spec.path
        return sql_collection(
            request,
            ctx,
            opts,
            statement=statement,
            fields=spec.fields,
            keyset=spec.keyset,
            shape=spec.shape,
            context=context,
            count_only=count_only,
            expand=expand_principal_and_role,
        )


def _type_name(spec: Collection) -> str:
    kind = "Assignment" if spec.model is Assignment else "Eligibility"
    return f"unifiedRole{kind}Schedule" + ("Instance" if spec.instance else "")


def _get(request: Request, caller: CallerDep, spec: Collection, key: str) -> Response:
    function = _FUNCTION.fullmatch(key)
    if function is not None:
        on = function.group(1) or function.group(2)
        if on != "principal":
            raise bad_request(f"filterByCurrentUser takes on='principal' here, not {on!r}.")
        return _list(request, caller, spec, False, True)
    opts = entity_options(request, expandable=EXPANDABLE)
    schedule_id = guid_or_none(key)
    if schedule_id is None:
        raise not_found(f"{_type_name(spec)} {key!r} does not exist.")
    with caller.read() as ctx:
        row = membership.get_schedule(
            ctx, directory_of(ctx), spec.model, schedule_id, *spec.live(ctx)
        )
        item = spec.shape(row)
        if opts.expand:
            expand_principal_and_role(ctx, [item], opts.expand)
        return entity_response(request, spec.path, item, opts)


def _register(target: APIRouter, spec: Collection) -> None:
    base = "/" + spec.path
    noun = _type_name(spec)

    @target.get(base, summary=f"List {noun}s", openapi_extra=access(READER))
    def list_schedules(request: Request, caller: CallerDep) -> Response:
        return _list(request, caller, spec, False, False)

    @target.get(f"{base}/$count", summary=f"Count {noun}s", openapi_extra=access(READER))
    def count_schedules(request: Request, caller: CallerDep) -> Response:
        return _list(request, caller, spec, True, False)

    @target.get(
        f"{base}/{{key}}",
        summary=f"Get a {noun}, or filterByCurrentUser(on='principal')",
        openapi_extra=access(SELF_OR_READER),
    )
    def get_schedule(key: str, request: Request, caller: CallerDep) -> Response:
        return _get(request, caller, spec, key)


for _spec in COLLECTIONS:
    _register(router, _spec)

__all__ = ["COLLECTIONS", "router"]
