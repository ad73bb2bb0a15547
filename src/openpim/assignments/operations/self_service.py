"""selfExtend and selfRenew: a member asks an admin for more time.

Extend: for an eligibility or assignment that ends within 14 days. Renew: for one that expired
within the last 30 days. Either waits as PendingAdminDecision until a PRA approves or denies.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from openpim.assignments import guards
from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    Eligibility,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.activate import _acting_user, request_audit
from openpim.assignments.operations.common import flush_or_conflict, new_request
from openpim.assignments.queries import (
    Schedule,
    current_of_type,
    ensure_no_conflicting_pending,
    is_assigned,
    load_role,
)
from openpim.audit.writer import record
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed
from openpim.notifications.outbox import enqueue

EXTEND_WINDOW = timedelta(days=14)
RENEW_WINDOW = timedelta(days=30)


def _own_schedules(
    ctx: Ctx, member_type: MemberType, user_id: uuid.UUID, role_id: uuid.UUID
) -> list[Schedule]:
    rows = current_of_type(ctx.session, member_type, user_id, role_id, ctx.now)
    if member_type == MemberType.ACTIVE:
        rows = [r for r in rows if is_assigned(r)]
    return rows


def self_extend(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    end_at: datetime | None,
    justification: str | None,
) -> RoleRequest:
    user = _acting_user(ctx, directory_id)
    load_role(ctx, directory_id, role_id)
    rows = _own_schedules(ctx, member_type, user.id, role_id)
    if not rows:
        raise NotFound(
            "You have no current assignment of this role to extend.",
            code="role_assignment_not_found",
        )
    schedule = rows[-1]
    if schedule.end_at is None:
        raise Conflict(
            "This assignment is permanent; there is nothing to extend.", code="already_permanent"
        )
    if schedule.end_at - ctx.now > EXTEND_WINDOW:
        raise Conflict(
            "An extension can be requested only in the last 14 days of an assignment.",
            code="extension_too_early",
        )
    if end_at is not None and end_at <= schedule.end_at:
        raise ValidationFailed(
            "The new end must be later than the current end.",
            code="extension_not_later",
            field="end_at",
        )
    return _pending(
        ctx,
        RequestAction.SELF_EXTEND,
        directory_id,
        user.id,
        role_id,
        member_type,
        end_at,
        justification,
        schedule.id,
    )


def self_renew(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    end_at: datetime | None,
    justification: str | None,
) -> RoleRequest:
    user = _acting_user(ctx, directory_id)
    load_role(ctx, directory_id, role_id)
    if _own_schedules(ctx, member_type, user.id, role_id):
        raise Conflict(
            "This assignment has not expired; ask for an extension instead.", code="not_expired"
        )
    expired = _recently_expired(ctx, member_type, user.id, role_id)
    if expired is None:
        raise NotFound(
            "You have no assignment of this role that expired in the last 30 days.",
            code="nothing_to_renew",
        )
    guards.require_window_not_past(ctx.now, end_at, field="end_at")
    return _pending(
        ctx,
        RequestAction.SELF_RENEW,
        directory_id,
        user.id,
        role_id,
        member_type,
        end_at,
        justification,
        expired.id,
    )


def _recently_expired(
    ctx: Ctx, member_type: MemberType, user_id: uuid.UUID, role_id: uuid.UUID
) -> Schedule | None:
    window = (ctx.now - RENEW_WINDOW, ctx.now)
    if member_type == MemberType.ELIGIBLE:
        return ctx.session.scalars(
            select(Eligibility)
            .where(
                Eligibility.principal_id == user_id,
                Eligibility.role_id == role_id,
                Eligibility.end_at > window[0],
                Eligibility.end_at <= window[1],
            )
            .order_by(Eligibility.end_at.desc())
            .limit(1)
        ).first()
    return ctx.session.scalars(
        select(Assignment)
        .where(
            Assignment.principal_id == user_id,
            Assignment.role_id == role_id,
            Assignment.assignment_type == AssignmentType.ASSIGNED,
            Assignment.end_at > window[0],
            Assignment.end_at <= window[1],
        )
        .order_by(Assignment.end_at.desc())
        .limit(1)
    ).first()


def _pending(
    ctx: Ctx,
    action: RequestAction,
    directory_id: uuid.UUID,
    user_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    end_at: datetime | None,
    justification: str | None,
    target_id: uuid.UUID,
) -> RoleRequest:
    justification = guards.clean_text(justification, "justification")
    guards.require_justification(True, justification)
    ensure_no_conflicting_pending(ctx, user_id, role_id, member_type)
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=action,
        member_type=member_type,
        principal_id=user_id,
        role_id=role_id,
        status=RequestStatus.PENDING_ADMIN_DECISION,
        start_at=ctx.now,
        end_at=end_at,
        justification=justification,
        target_schedule_id=target_id,
    )
    request.approval_deadline = ctx.now + ctx.settings.approval_timeout
    flush_or_conflict(ctx, "There is already a pending request for this role.", "request_pending")
    record(ctx, request_audit(ctx, request, f"request.{action}"))
    enqueue(
        ctx,
        "request.pending_admin_decision",
        {
            "request_id": request.id,
            "action": action,
            "principal_id": user_id,
            "role_id": role_id,
            "justification": justification,
        },
        directory_id=directory_id,
    )
    return request
