"""Admin requests that change a current membership's window: adminUpdate, adminExtend,
adminRenew.

Only an active Privileged Role Administrator (or the server operator) may call these; a
selfExtend/selfRenew approved by a PRA runs through them too (operations/approval.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from openpim.assignments import guards
from openpim.assignments.lifecycle import (
    audit_schedule,
)
from openpim.assignments.models import (
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.admin import admin_assign
from openpim.assignments.operations.common import new_request
from openpim.assignments.queries import (
    Schedule,
    current_of_type,
    is_assigned,
    load_directory,
    load_role,
    load_user,
    overlapping_of_type,
    running_activations_of,
    schedule_model,
)
from openpim.auth.permissions import require_manage
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed
from openpim.policies.service import get_role_settings


def _current_schedules(
    ctx: Ctx, member_type: MemberType, principal_id: uuid.UUID, role_id: uuid.UUID
) -> list[Schedule]:
    rows = current_of_type(ctx.session, member_type, principal_id, role_id, ctx.now, lock=True)
    if member_type == MemberType.ACTIVE:
        # Admin update/extend of active membership acts on assigned schedules; an activation
        # is changed by removing the eligibility or by its owner.
        return [r for r in rows if is_assigned(r)] or rows
    return rows


def admin_update(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    end_at: datetime | None,
    start_at: datetime | None = None,
    justification: str | None = None,
    action: RequestAction = RequestAction.ADMIN_UPDATE,
) -> RoleRequest:
    """Change the window of a current schedule (set or clear its end, move a future start)."""
    require_manage(ctx, directory_id)
    load_directory(ctx, directory_id, lock=True)
    load_user(ctx, directory_id, principal_id)
    load_role(ctx, directory_id, role_id)
    rows = _current_schedules(ctx, member_type, principal_id, role_id)
    if not rows:
        raise NotFound(
            f"The user has no current {member_type.value.lower()} assignment of this role.",
            code="role_assignment_not_found",
        )
    schedule = rows[0]
    new_start = schedule.start_at
    if start_at is not None and schedule.start_at > ctx.now:
        new_start = max(start_at, ctx.now)
    guards.require_window_not_past(ctx.now, end_at, field="end_at")
    guards.require_minimum_length(new_start, end_at, field="end_at")
    if action == RequestAction.ADMIN_EXTEND and (
        schedule.end_at is None or (end_at is not None and end_at <= schedule.end_at)
    ):
        raise ValidationFailed(
            "An extension must move the end later than it is now.",
            code="extension_not_later",
            field="end_at",
        )
    settings = get_role_settings(ctx, directory_id, role_id)
    guards.require_assignment_policy(settings, member_type, new_start, end_at)
    if overlapping_of_type(
        ctx.session,
        member_type,
        principal_id,
        role_id,
        new_start,
        end_at,
        exclude_id=schedule.id,
    ):
        raise Conflict("Another schedule overlaps that window.", code="role_assignment_exists")
    shortened = end_at is not None and (schedule.end_at is None or end_at < schedule.end_at)
    if shortened and member_type == MemberType.ACTIVE:
        assert end_at is not None
        guards.require_other_holder(ctx, directory_id, role_id, principal_id, end_at)
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=action,
        member_type=member_type,
        principal_id=principal_id,
        role_id=role_id,
        status=RequestStatus.PROVISIONED,
        start_at=new_start,
        end_at=end_at,
        justification=guards.clean_text(justification, "justification"),
        target_schedule_id=schedule.id,
    )
    old = {
        "start_at": schedule.start_at.isoformat(),
        "end_at": schedule.end_at.isoformat() if schedule.end_at else None,
    }
    schedule.start_at, schedule.end_at = new_start, end_at
    if member_type == MemberType.ELIGIBLE and end_at is not None:
        _clamp_activations(ctx, schedule.id, end_at, request)
    kind = "eligibility" if member_type == MemberType.ELIGIBLE else "assignment"
    verb = {RequestAction.ADMIN_EXTEND: "extended", RequestAction.ADMIN_RENEW: "renewed"}.get(
        action, "updated"
    )
    audit_schedule(
        ctx,
        f"{kind}.{verb}",
        schedule,
        request,
        detail={"previous": old},
        notify="assignment.changed",
    )
    return request


def _clamp_activations(
    ctx: Ctx, eligibility_id: uuid.UUID, end: datetime, request: RoleRequest
) -> None:
    """An activation never outlives its eligibility: shorten the ones that would."""
    for activation in running_activations_of(ctx, eligibility_id, ctx.now):
        if activation.end_at is None or activation.end_at > end:
            activation.end_at = max(end, activation.start_at)
            audit_schedule(
                ctx,
                "activation.shortened",
                activation,
                request,
                detail={"reason": "eligibility shortened"},
            )


def admin_extend(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    end_at: datetime | None,
    justification: str | None = None,
) -> RoleRequest:
    """Move the end of a current time-bound schedule later (or make it permanent)."""
    return admin_update(
        ctx,
        directory_id=directory_id,
        principal_id=principal_id,
        role_id=role_id,
        member_type=member_type,
        end_at=end_at,
        justification=justification,
        action=RequestAction.ADMIN_EXTEND,
    )


def admin_renew(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    end_at: datetime | None,
    justification: str | None = None,
) -> RoleRequest:
    """Give back a membership that has expired: a new schedule from now to `end_at`."""
    require_manage(ctx, directory_id)
    model = schedule_model(member_type)
    if current_of_type(ctx.session, member_type, principal_id, role_id, ctx.now):
        raise Conflict(
            "The assignment has not expired; extend it instead of renewing it.",
            code="not_expired",
        )
    if not ctx.session.scalars(
        select(model.id)
        .where(
            model.principal_id == principal_id, model.role_id == role_id, model.end_at <= ctx.now
        )
        .limit(1)
    ).first():
        raise NotFound(
            "The user has no expired assignment of this role to renew.", code="nothing_to_renew"
        )
    request = admin_assign(
        ctx,
        directory_id=directory_id,
        principal_id=principal_id,
        role_id=role_id,
        member_type=member_type,
        end_at=end_at,
        justification=justification or "renewal",
    )
    request.action = RequestAction.ADMIN_RENEW
    return request
