"""Admin requests that add or end membership: adminAssign and adminRemove (adminUpdate,
adminExtend and adminRenew are in update.py).

Only an active Privileged Role Administrator (or the server operator) may call these. Each one
opens a RoleRequest (the record of who asked for what), changes schedules, and writes audit and
outbox rows in the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from openpim.assignments import guards
from openpim.assignments.lifecycle import (
    audit_schedule,
    create_assignment,
    create_eligibility,
    end_schedule,
)
from openpim.assignments.models import (
    AssignmentType,
    EndReason,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.common import new_request
from openpim.assignments.queries import (
    Schedule,
    current_of_type,
    load_directory,
    load_role,
    load_user,
    overlapping_of_type,
    running_activations_of,
)
from openpim.auth.permissions import require_manage
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound
from openpim.policies.service import get_role_settings

ADDED_ACTION = {MemberType.ELIGIBLE: "eligibility.added", MemberType.ACTIVE: "assignment.added"}


def _actor_user(ctx: Ctx) -> User | None:
    return ctx.session.get(User, ctx.actor.user_id) if ctx.actor.user_id else None


def _check_active_assignment_demands(
    ctx: Ctx,
    member_type: MemberType,
    require_mfa: bool,
    require_just: bool,
    justification: str | None,
    totp_code: str | None,
) -> None:
    """Role settings may demand MFA and a justification from the admin making someone active."""
    if member_type != MemberType.ACTIVE:
        return
    guards.require_justification(require_just, justification)
    actor = _actor_user(ctx)
    if require_mfa and actor is not None:
        guards.prove_mfa(ctx, actor, totp_code)


def admin_assign(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    justification: str | None = None,
    ticket_number: str | None = None,
    ticket_system: str | None = None,
    totp_code: str | None = None,
) -> RoleRequest:
    """Make a user eligible for, or permanently/time-bound active in, a role."""
    require_manage(ctx, directory_id)
    return assign_unchecked(
        ctx,
        directory_id=directory_id,
        principal_id=principal_id,
        role_id=role_id,
        member_type=member_type,
        start_at=start_at,
        end_at=end_at,
        justification=justification,
        ticket_number=ticket_number,
        ticket_system=ticket_system,
        totp_code=totp_code,
    )


def assign_unchecked(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    justification: str | None = None,
    ticket_number: str | None = None,
    ticket_system: str | None = None,
    totp_code: str | None = None,
) -> RoleRequest:
    """admin_assign without the "who may manage" check, for callers that made their own
    (enabling PIM makes the enabler PRA before anyone can be PRA)."""
    load_directory(ctx, directory_id)
    user = load_user(ctx, directory_id, principal_id)
    load_role(ctx, directory_id, role_id)
    if not user.enabled:
        raise Conflict("The user is disabled and cannot be given a role.", code="user_disabled")
    justification = guards.clean_text(justification, "justification")
    start = ctx.now if start_at is None or start_at < ctx.now else start_at
    guards.require_window_not_past(ctx.now, end_at, field="end_at")
    guards.require_minimum_length(start, end_at, field="end_at")
    settings = get_role_settings(ctx, directory_id, role_id)
    guards.require_assignment_policy(settings, member_type, start, end_at)
    _check_active_assignment_demands(
        ctx,
        member_type,
        settings.require_mfa_on_active_assignment,
        settings.require_justification_on_active_assignment,
        justification,
        totp_code,
    )
    if overlapping_of_type(ctx.session, member_type, principal_id, role_id, start, end_at):
        raise Conflict(
            f"{user.user_principal_name} already has an overlapping "
            f"{member_type.value.lower()} assignment of this role; update or extend it instead.",
            code="role_assignment_exists",
        )
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=RequestAction.ADMIN_ASSIGN,
        member_type=member_type,
        principal_id=principal_id,
        role_id=role_id,
        status=RequestStatus.PROVISIONED,
        start_at=start,
        end_at=end_at,
        justification=justification,
        ticket_number=guards.clean_text(ticket_number, "ticket_number"),
        ticket_system=guards.clean_text(ticket_system, "ticket_system"),
    )
    schedule = _create(
        ctx, member_type, directory_id, principal_id, role_id, start, end_at, request
    )
    audit_schedule(ctx, ADDED_ACTION[member_type], schedule, request, notify="assignment.added")
    return request


def _create(
    ctx: Ctx,
    member_type: MemberType,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    start: datetime,
    end: datetime | None,
    request: RoleRequest,
) -> Schedule:
    if member_type == MemberType.ELIGIBLE:
        return create_eligibility(
            ctx,
            directory_id=directory_id,
            principal_id=principal_id,
            role_id=role_id,
            start_at=start,
            end_at=end,
            request=request,
        )
    return create_assignment(
        ctx,
        directory_id=directory_id,
        principal_id=principal_id,
        role_id=role_id,
        start_at=start,
        end_at=end,
        request=request,
        assignment_type=AssignmentType.ASSIGNED,
    )


def admin_remove(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
    justification: str | None = None,
) -> RoleRequest:
    """End a user's eligibility (and its running activations) or active membership now."""
    require_manage(ctx, directory_id)
    load_directory(ctx, directory_id, lock=True)
    load_user(ctx, directory_id, principal_id)
    load_role(ctx, directory_id, role_id)
    rows = current_of_type(ctx.session, member_type, principal_id, role_id, ctx.now, lock=True)
    if not rows:
        raise NotFound(
            f"The user has no current {member_type.value.lower()} assignment of this role.",
            code="role_assignment_not_found",
        )
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=RequestAction.ADMIN_REMOVE,
        member_type=member_type,
        principal_id=principal_id,
        role_id=role_id,
        status=RequestStatus.REVOKED,
        justification=guards.clean_text(justification, "justification"),
        target_schedule_id=rows[0].id,
    )
    ended_activations = []
    if member_type == MemberType.ELIGIBLE:
        for eligibility in rows:
            ended_activations += running_activations_of(ctx, eligibility.id, ctx.now)
    loses_active_hold = member_type == MemberType.ACTIVE or any(
        a.start_at <= ctx.now for a in ended_activations
    )
    if loses_active_hold:
        guards.require_other_holder(ctx, directory_id, role_id, principal_id, ctx.now)
    for activation in ended_activations:
        end_schedule(ctx, activation, EndReason.ELIGIBILITY_ENDED, request)
    for row in rows:
        end_schedule(ctx, row, EndReason.REMOVED, request)
    return request
