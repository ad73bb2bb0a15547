"""Make permanent (eligible -> active) and make eligible (active -> eligible).

A conversion ends the old schedule (reason "converted") and starts the new one with the same
end, in one request, so the history shows one step rather than a removal and an addition.
"""

from __future__ import annotations

import uuid

from openpim.assignments import guards
from openpim.assignments.lifecycle import (
    audit_schedule,
    create_assignment,
    create_eligibility,
    end_schedule,
)
from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    Eligibility,
    EndReason,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.common import new_request
from openpim.assignments.queries import (
    current_or_future,
    load_directory,
    load_role,
    load_user,
    running_activations_of,
)
from openpim.auth.permissions import require_manage
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound
from openpim.policies.service import get_role_settings


def make_permanent(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    justification: str | None = None,
) -> RoleRequest:
    """Turn a current eligibility into a permanent active assignment (no end)."""
    require_manage(ctx, directory_id)
    load_directory(ctx, directory_id)
    load_user(ctx, directory_id, principal_id)
    load_role(ctx, directory_id, role_id)
    eligibilities = current_or_future(
        ctx.session, Eligibility, principal_id, role_id, ctx.now, lock=True
    )
    if not eligibilities:
        raise NotFound("The user is not eligible for this role.", code="role_assignment_not_found")
    eligibility = eligibilities[0]
    assigned = [
        a
        for a in current_or_future(ctx.session, Assignment, principal_id, role_id, ctx.now)
        if a.assignment_type == AssignmentType.ASSIGNED
    ]
    if assigned:
        raise Conflict(
            "The user already has an active assignment of this role.", code="role_assignment_exists"
        )
    start = max(eligibility.start_at, ctx.now)
    # Permanent means always active, with no end; a role whose settings forbid permanent
    # active assignments refuses it (the admin can assign a time-bound one instead).
    guards.require_assignment_policy(
        get_role_settings(ctx, directory_id, role_id), MemberType.ACTIVE, start, None
    )
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=RequestAction.ADMIN_ASSIGN,
        member_type=MemberType.ACTIVE,
        principal_id=principal_id,
        role_id=role_id,
        status=RequestStatus.PROVISIONED,
        start_at=start,
        end_at=None,
        justification=guards.clean_text(justification, "justification") or "make permanent",
        target_schedule_id=eligibility.id,
    )
    for activation in running_activations_of(ctx, eligibility.id, ctx.now):
        end_schedule(ctx, activation, EndReason.REPLACED, request, notify=False)
    end_schedule(ctx, eligibility, EndReason.CONVERTED, request, notify=False)
    assignment = create_assignment(
        ctx,
        directory_id=directory_id,
        principal_id=principal_id,
        role_id=role_id,
        start_at=request.start_at or ctx.now,
        end_at=request.end_at,
        request=request,
        assignment_type=AssignmentType.ASSIGNED,
    )
    audit_schedule(
        ctx, "assignment.made_permanent", assignment, request, notify="assignment.changed"
    )
    return request


def make_eligible(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    justification: str | None = None,
) -> RoleRequest:
    """Turn a current (assigned) active membership into an eligibility with the same end."""
    require_manage(ctx, directory_id)
    load_directory(ctx, directory_id, lock=True)
    load_user(ctx, directory_id, principal_id)
    load_role(ctx, directory_id, role_id)
    assigned = [
        a
        for a in current_or_future(
            ctx.session, Assignment, principal_id, role_id, ctx.now, lock=True
        )
        if a.assignment_type == AssignmentType.ASSIGNED
    ]
    if not assigned:
        raise NotFound(
            "The user has no active assignment of this role to convert.",
            code="role_assignment_not_found",
        )
    assignment = assigned[0]
    guards.require_other_holder(ctx, directory_id, role_id, principal_id, ctx.now)
    request = new_request(
        ctx,
        directory_id=directory_id,
        action=RequestAction.ADMIN_ASSIGN,
        member_type=MemberType.ELIGIBLE,
        principal_id=principal_id,
        role_id=role_id,
        status=RequestStatus.PROVISIONED,
        start_at=max(assignment.start_at, ctx.now),
        end_at=assignment.end_at,
        justification=guards.clean_text(justification, "justification") or "make eligible",
        target_schedule_id=assignment.id,
    )
    end_schedule(ctx, assignment, EndReason.CONVERTED, request, notify=False)
    existing = current_or_future(ctx.session, Eligibility, principal_id, role_id, ctx.now)
    if existing:
        eligibility = existing[0]
        if eligibility.end_at is not None and (
            request.end_at is None or eligibility.end_at < request.end_at
        ):
            eligibility.end_at = request.end_at
    else:
        eligibility = create_eligibility(
            ctx,
            directory_id=directory_id,
            principal_id=principal_id,
            role_id=role_id,
            start_at=request.start_at or ctx.now,
            end_at=request.end_at,
            request=request,
        )
    audit_schedule(
        ctx, "eligibility.made_eligible", eligibility, request, notify="assignment.changed"
    )
    return request
