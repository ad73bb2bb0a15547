"""selfDeactivate: the owner of an activation ends it early (not within 5 minutes of starting)."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from openpim.assignments import guards
from openpim.assignments.lifecycle import end_schedule
from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    EndReason,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.activate import _acting_user
from openpim.assignments.operations.common import new_request
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound
from openpim.policies.settings import DEACTIVATION_GRACE


def self_deactivate(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    justification: str | None = None,
) -> RoleRequest:
    user = _acting_user(ctx, directory_id)
    activation = ctx.session.execute(
        select(Assignment)
        .where(
            Assignment.principal_id == user.id,
            Assignment.role_id == role_id,
            Assignment.assignment_type == AssignmentType.ACTIVATED,
            or_(Assignment.end_at.is_(None), Assignment.end_at > ctx.now),
        )
        .order_by(Assignment.start_at)
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if activation is None:
        raise NotFound("You have no activation of this role to end.", code="not_active")
    started = activation.start_at <= ctx.now
    if started and ctx.now - activation.start_at < DEACTIVATION_GRACE:
        wait = DEACTIVATION_GRACE - (ctx.now - activation.start_at)
        raise Conflict(
            f"An activation cannot be ended within 5 minutes of starting; try again in "
            f"{int(wait.total_seconds()) + 1} seconds.",
            code="deactivation_too_soon",
        )
    if started:
        guards.require_other_holder(ctx, directory_id, role_id, user.id, ctx.now)
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=RequestAction.SELF_DEACTIVATE,
        member_type=MemberType.ACTIVE,
        principal_id=user.id,
        role_id=role_id,
        status=RequestStatus.REVOKED,
        justification=guards.clean_text(justification, "justification"),
        target_schedule_id=activation.id,
        eligibility_id=activation.eligibility_id,
    )
    end_schedule(ctx, activation, EndReason.DEACTIVATED, request)
    return request
