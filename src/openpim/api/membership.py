"""Who holds which role: my roles, users in admin roles, self-service and admin requests.

Every change answers with the request that recorded it (RequestOut), Graph style: its status
says whether it was granted at once (Provisioned) or waits for a decision (PendingApproval,
PendingAdminDecision, answered 202).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from openpim.api.deps import (
    MANAGER,
    READER,
    SELF_OR_READER,
    SIGNED_IN,
    Caller,
    CallerDep,
    StrictRoute,
    access,
)
from openpim.api.scope import directory_of, user_of
from openpim.assignments import service as membership
from openpim.assignments.models import PENDING_STATUSES, MemberType, RoleRequest
from openpim.assignments.schemas import (
    ActivateIn,
    AssignIn,
    DeactivateIn,
    MembershipIn,
    RequestOut,
    ScheduleOut,
    SelfExtendIn,
    StrictBody,
    UpdateIn,
)
from openpim.assignments.views import MAX_PAGE

DEFAULT_PAGE = 100

router = APIRouter(tags=["membership"], route_class=StrictRoute)


class ScheduleListOut(BaseModel):
    value: list[ScheduleOut]


class MemberPageOut(ScheduleListOut):
    """A page of members: `value` as before keyset paging, plus where the next page starts."""

    # Pass back as `cursor` for the next page; null on the last page.
    next_cursor: str | None


class EndIn(MembershipIn):
    end_at: AwareDatetime | None = Field(description="The new end; null means permanent")


class ConvertIn(StrictBody):
    principal_id: uuid.UUID
    role_id: uuid.UUID
    justification: str | None = Field(default=None, max_length=500)


def _answer(request: RoleRequest, created: int = status.HTTP_200_OK) -> Response:
    """The request as RequestOut JSON (the routes' declared response_model), serialised here:
    a returned Response skips FastAPI's re-validation of the model, which for a sync route is
    one more thread-pool hop per request (a tenth of the activation route's CPU)."""
    return Response(
        content=RequestOut.model_validate(request).model_dump_json(by_alias=True),
        status_code=status.HTTP_202_ACCEPTED if request.status in PENDING_STATUSES else created,
        media_type="application/json",
    )


def _change(
    caller: Caller,
    operation: Callable[..., RoleRequest],
    body: StrictBody,
    created: int = status.HTTP_200_OK,
) -> Response:
    # Every body's fields are named as the operation's keywords, so one call serves all routes.
    with caller.unit() as ctx:
        request = operation(ctx, directory_id=directory_of(ctx), **dict(body))
        return _answer(request, created)


# --- reading ------------------------------------------------------------------------------


_PAGING = (
    " A page at a time, by user name, role name, eligible before active, start: pass"
    " `next_cursor` back as `cursor` for the next page (null on the last page); `limit` is"
    f" 1 to {MAX_PAGE}, default {DEFAULT_PAGE}. A cursor this server did not hand out is"
    " refused with 422 `invalid_cursor`. Until keyset paging, these listings sorted by role"
    " name first, answered up to 500 eligible plus 500 active rows and had no `next_cursor`."
)
CursorParam = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page (checked by the service)"),
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page")]


@router.get(
    "/members",
    summary="Users in admin roles: current and scheduled eligible and active members, filtered"
    " (keyset pages)",
    description="Every eligible and active assignment that has not ended." + _PAGING,
    response_model=MemberPageOut,
    openapi_extra=access(READER),
)
def list_members(
    caller: CallerDep,
    role_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    member_type: MemberType | None = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> MemberPageOut:
    with caller.read() as ctx:
        page = membership.member_page(
            ctx,
            directory_of(ctx),
            role_id=role_id,
            user_id=user_id,
            member_type=member_type,
            cursor=cursor,
            limit=limit,
        )
        return MemberPageOut(value=page.items, next_cursor=page.next_cursor)


@router.get(
    "/roles/{role_id}/members",
    summary="Current and scheduled eligible and active members of one role (keyset pages)",
    description="The role's eligible and active assignments that have not ended." + _PAGING,
    response_model=MemberPageOut,
    openapi_extra=access(READER),
)
def role_members(
    role_id: uuid.UUID,
    caller: CallerDep,
    member_type: MemberType | None = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> MemberPageOut:
    with caller.read() as ctx:
        page = membership.member_page(
            ctx,
            directory_of(ctx),
            role_id=role_id,
            member_type=member_type,
            cursor=cursor,
            limit=limit,
        )
        return MemberPageOut(value=page.items, next_cursor=page.next_cursor)


@router.get(
    "/me/roles",
    summary="My roles: eligible and active, current and scheduled",
    response_model=ScheduleListOut,
    openapi_extra=access(SIGNED_IN),
)
def my_roles(caller: CallerDep) -> ScheduleListOut:
    with caller.read() as ctx:
        return ScheduleListOut(value=membership.user_roles(ctx, directory_of(ctx), user_of(ctx)))


@router.get(
    "/users/{user_id}/roles",
    summary="A user's roles: eligible and active, current and scheduled",
    response_model=ScheduleListOut,
    openapi_extra=access(SELF_OR_READER),
)
def user_roles(user_id: uuid.UUID, caller: CallerDep) -> ScheduleListOut:
    with caller.read() as ctx:
        return ScheduleListOut(value=membership.user_roles(ctx, directory_of(ctx), user_id))


# --- self-service -------------------------------------------------------------------------


@router.post(
    "/me/activations",
    summary="Activate one of my eligible roles (201 active or scheduled, 202 awaiting approval)",
    response_model=RequestOut,
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": RequestOut, "description": "Waiting for approval"}},
    openapi_extra=access(SIGNED_IN),
)
def activate(body: ActivateIn, caller: CallerDep) -> Response:
    return _change(caller, membership.self_activate, body, status.HTTP_201_CREATED)


@router.post(
    "/me/deactivations",
    summary="Deactivate one of my active roles before it ends",
    response_model=RequestOut,
    openapi_extra=access(SIGNED_IN),
)
def deactivate(body: DeactivateIn, caller: CallerDep) -> Response:
    return _change(caller, membership.self_deactivate, body)


@router.post(
    "/me/extensions",
    summary="Ask an administrator to extend my assignment (last 14 days of it)",
    response_model=RequestOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=access(SIGNED_IN),
)
def extend_mine(body: SelfExtendIn, caller: CallerDep) -> Response:
    return _change(caller, membership.self_extend, body)


@router.post(
    "/me/renewals",
    summary="Ask an administrator to renew my assignment (expired in the last 30 days)",
    response_model=RequestOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=access(SIGNED_IN),
)
def renew_mine(body: SelfExtendIn, caller: CallerDep) -> Response:
    return _change(caller, membership.self_renew, body)


# --- administration -----------------------------------------------------------------------


@router.post(
    "/assignments",
    summary="Assign a role to a user, eligible (default) or active, permanent or time-bound",
    response_model=RequestOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(MANAGER),
)
def assign(body: AssignIn, caller: CallerDep) -> Response:
    return _change(caller, membership.admin_assign, body, status.HTTP_201_CREATED)


@router.post(
    "/assignments/remove",
    summary="Remove a user's eligible or active assignment (ends its activations)",
    response_model=RequestOut,
    openapi_extra=access(MANAGER),
)
def remove(body: MembershipIn, caller: CallerDep) -> Response:
    return _change(caller, membership.admin_remove, body)


@router.post(
    "/assignments/update",
    summary="Change the start or end of an assignment",
    response_model=RequestOut,
    openapi_extra=access(MANAGER),
)
def update(body: UpdateIn, caller: CallerDep) -> Response:
    return _change(caller, membership.admin_update, body)


@router.post(
    "/assignments/extend",
    summary="Extend an assignment to a later end (or make it permanent)",
    response_model=RequestOut,
    openapi_extra=access(MANAGER),
)
def extend(body: EndIn, caller: CallerDep) -> Response:
    return _change(caller, membership.admin_extend, body)


@router.post(
    "/assignments/renew",
    summary="Renew an assignment that has expired",
    response_model=RequestOut,
    openapi_extra=access(MANAGER),
)
def renew(body: EndIn, caller: CallerDep) -> Response:
    return _change(caller, membership.admin_renew, body)


@router.post(
    "/assignments/make-permanent",
    summary="Turn an eligible member into a permanent active one",
    response_model=RequestOut,
    openapi_extra=access(MANAGER),
)
def make_permanent(body: ConvertIn, caller: CallerDep) -> Response:
    return _change(caller, membership.make_permanent, body)


@router.post(
    "/assignments/make-eligible",
    summary="Turn a permanent active member into an eligible one",
    response_model=RequestOut,
    openapi_extra=access(MANAGER),
)
def make_eligible(body: ConvertIn, caller: CallerDep) -> Response:
    return _change(caller, membership.make_eligible, body)
