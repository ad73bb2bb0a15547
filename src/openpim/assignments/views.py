"""Read side of membership: my roles, a role's members, users in admin roles, requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, or_, select

from openpim.assignments.models import (
    PENDING_STATUSES,
    Assignment,
    Eligibility,
    MemberType,
    RoleRequest,
)
from openpim.assignments.operations.approval import can_decide
from openpim.assignments.schemas import ScheduleOut
from openpim.auth.permissions import require_read_all, require_self_or_read_all
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import NotFound
from openpim.roles.models import RoleDefinition

MAX_PAGE = 500


def _state(start: datetime, end: datetime | None, now: datetime) -> str:
    if end is not None and end <= now:
        return "ended"
    return "active" if start <= now else "scheduled"


def _schedules(
    ctx: Ctx,
    model: type[Eligibility] | type[Assignment],
    *conditions: object,
    include_ended: bool = False,
    limit: int = MAX_PAGE,
) -> list[ScheduleOut]:
    stmt: Select = (  # type: ignore[type-arg]
        select(model, User.user_principal_name, RoleDefinition.display_name)
        .join(User, User.id == model.principal_id)
        .join(RoleDefinition, RoleDefinition.id == model.role_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(RoleDefinition.display_name, User.user_principal_name, model.start_at)
        .limit(min(limit, MAX_PAGE))
    )
    if not include_ended:
        stmt = stmt.where(or_(model.end_at.is_(None), model.end_at > ctx.now))
    out = []
    for row, upn, role_name in ctx.session.execute(stmt):
        is_assignment = isinstance(row, Assignment)
        out.append(
            ScheduleOut(
                id=row.id,
                member_type=MemberType.ACTIVE if is_assignment else MemberType.ELIGIBLE,
                assignment_type=row.assignment_type if is_assignment else None,
                principal_id=row.principal_id,
                principal=upn,
                role_id=row.role_id,
                role=role_name,
                start_at=row.start_at,
                end_at=row.end_at,
                state=_state(row.start_at, row.end_at, ctx.now),
                eligibility_id=row.eligibility_id if is_assignment else None,
                request_id=row.request_id,
                created_via=row.created_via,
                ended_reason=row.ended_reason,
            )
        )
    return out


def user_roles(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> list[ScheduleOut]:
    """A user's current and scheduled eligibilities and active assignments ("My roles")."""
    require_self_or_read_all(ctx, directory_id, user_id)
    return _schedules(ctx, Eligibility, Eligibility.principal_id == user_id) + _schedules(
        ctx, Assignment, Assignment.principal_id == user_id
    )


def members(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    role_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    member_type: MemberType | None = None,
    limit: int = MAX_PAGE,
) -> list[ScheduleOut]:
    """Users in admin roles: every current eligibility and active assignment, filtered."""
    require_read_all(ctx, directory_id)
    out: list[ScheduleOut] = []
    for model, kind in ((Eligibility, MemberType.ELIGIBLE), (Assignment, MemberType.ACTIVE)):
        if member_type is not None and member_type != kind:
            continue
        conditions: list[object] = [model.directory_id == directory_id]
        if role_id is not None:
            conditions.append(model.role_id == role_id)
        if user_id is not None:
            conditions.append(model.principal_id == user_id)
        out += _schedules(ctx, model, *conditions, limit=limit)
    return out


def list_requests(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    principal_id: uuid.UUID | None = None,
    status: Sequence[str] | None = None,
    limit: int = 100,
) -> list[RoleRequest]:
    """Requests of one user (anyone may see their own) or of everyone (readers)."""
    if principal_id is None:
        require_read_all(ctx, directory_id)
    else:
        require_self_or_read_all(ctx, directory_id, principal_id)
    stmt = select(RoleRequest).where(RoleRequest.directory_id == directory_id)
    if principal_id is not None:
        stmt = stmt.where(RoleRequest.principal_id == principal_id)
    if status:
        stmt = stmt.where(RoleRequest.status.in_(list(status)))
    stmt = stmt.order_by(RoleRequest.created_at.desc()).limit(min(limit, MAX_PAGE))
    return list(ctx.session.scalars(stmt))


def awaiting_my_decision(ctx: Ctx, directory_id: uuid.UUID) -> list[RoleRequest]:
    """Pending requests the caller may approve or deny (never their own)."""
    pending = ctx.session.scalars(
        select(RoleRequest)
        .where(RoleRequest.directory_id == directory_id, RoleRequest.status.in_(PENDING_STATUSES))
        .order_by(RoleRequest.created_at)
        .limit(MAX_PAGE)
    )
    return [r for r in pending if can_decide(ctx, r)]


def get_request(ctx: Ctx, directory_id: uuid.UUID, request_id: uuid.UUID) -> RoleRequest:
    """One request: for its member or requester, whoever may decide it, and PIM's readers."""
    request = ctx.session.get(RoleRequest, request_id)
    if request is None or request.directory_id != directory_id:
        raise NotFound(f"Request {request_id} does not exist.", code="request_not_found")
    me = ctx.actor.user_id
    if me is not None and me in (request.principal_id, request.requested_by_id):
        return request
    if not can_decide(ctx, request):
        require_read_all(ctx, directory_id)
    return request
