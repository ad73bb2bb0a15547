"""selfActivate: an eligible user turns their role on for a bounded time.

Rules (DESIGN.md): duration between 5 minutes and the role's maximum; optional future start;
never past the eligibility's end; justification, ticket and MFA as the settings demand; a role
already active is a 409 (extend instead); with approval required the request waits.

Concurrency: the eligibility row is locked (FOR UPDATE on PostgreSQL; SQLite write units hold the
database lock) before the "already active?" check, so of two simultaneous activations exactly
one creates an assignment and the other sees it and gets the 409.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect

from openpim.assignments import guards
from openpim.assignments.lifecycle import audit_schedule, labels_of, new_assignment
from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.common import build_request, flush_or_conflict, insert_request
from openpim.assignments.queries import (
    activation_blockers,
    activation_parties,
    directory_not_found,
    load_user,
    lock_eligibility_window,
    raise_pending_conflict,
    role_not_found,
    role_visible_in,
    user_not_found,
)
from openpim.audit.writer import AuditEntry, record
from openpim.db import direct
from openpim.directory.models import User
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden, ValidationFailed
from openpim.notifications.outbox import enqueue
from openpim.policies.service import get_role_settings
from openpim.policies.settings import MINIMUM_SCHEDULE, RoleSettings

# A start time slightly in the past (clock skew between client and server) means "now".
START_SKEW = timedelta(minutes=5)


def _acting_user(ctx: Ctx, directory_id: uuid.UUID) -> User:
    """The signed-in user acting in `directory_id`, loaded and enabled."""
    user = load_user(ctx, directory_id, _acting_user_id(ctx, directory_id))
    if not user.enabled:
        raise _user_disabled()
    return user


def _user_disabled() -> Forbidden:
    return Forbidden("Your account is disabled.", code="user_disabled")


def _acting_user_id(ctx: Ctx, directory_id: uuid.UUID) -> uuid.UUID:
    if ctx.actor.kind != ActorKind.USER or ctx.actor.user_id is None:
        raise Forbidden("Only a signed-in user can activate their own role.", code="not_a_user")
    if ctx.actor.directory_id != directory_id:
        raise Forbidden("You are not a member of this directory.", code="wrong_directory")
    return ctx.actor.user_id


def _checked_parties(
    parties: Any | None, user_id: uuid.UUID, directory_id: uuid.UUID, role_id: uuid.UUID
) -> Any:
    """The user in this directory and enabled, the directory there with PIM on, the role seen
    in it: refused in that order (queries.activation_parties has the facts)."""
    if parties is None or parties.user_directory_id != directory_id:
        raise user_not_found(user_id)
    if not parties.enabled:
        raise _user_disabled()
    if parties.directory_found is None:
        raise directory_not_found(directory_id)
    if parties.pim_since is None:
        raise Conflict("PIM is not enabled for this directory yet.", code="pim_not_enabled")
    if parties.role_name is None or not role_visible_in(parties.role_owner, directory_id):
        raise role_not_found(role_id)
    return parties


def _window(
    ctx: Ctx, settings: RoleSettings, duration: timedelta, start_at: datetime | None
) -> tuple[datetime, datetime]:
    if duration < MINIMUM_SCHEDULE or duration > settings.activation_max_duration:
        raise ValidationFailed(
            f"Activation duration must be between 5 minutes and the role's maximum of "
            f"{settings.activation_max_duration}.",
            code="duration_out_of_bounds",
            field="duration",
        )
    start = ctx.now
    if start_at is not None:
        if start_at < ctx.now - START_SKEW:
            raise ValidationFailed(
                "The start time is in the past.", code="start_in_past", field="start_at"
            )
        start = max(start_at, ctx.now)
    try:
        return start, start + duration
    except OverflowError:  # a start near year 9999: no calendar has room for its end
        raise ValidationFailed(
            "The start time is too far in the future.", code="start_too_late", field="start_at"
        ) from None


def _clamp_to_eligibility(
    start: datetime, end: datetime, eligibility_end: datetime | None
) -> datetime:
    if eligibility_end is not None and end > eligibility_end:
        end = eligibility_end
    if end - start < MINIMUM_SCHEDULE:
        raise Conflict(
            "Your eligibility for this role ends in less than 5 minutes; ask for it to be "
            "extended.",
            code="eligibility_ends_too_soon",
        )
    return end


def self_activate(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    duration: timedelta,
    start_at: datetime | None = None,
    justification: str | None = None,
    ticket_number: str | None = None,
    ticket_system: str | None = None,
    totp_code: str | None = None,
) -> RoleRequest:
    user_id = _acting_user_id(ctx, directory_id)
    parties = _checked_parties(
        activation_parties(ctx, user_id, directory_id, role_id), user_id, directory_id, role_id
    )
    settings = get_role_settings(ctx, directory_id, role_id)
    justification = guards.clean_text(justification, "justification")
    ticket_number = guards.clean_text(ticket_number, "ticket_number")
    ticket_system = guards.clean_text(ticket_system, "ticket_system")
    start, end = _window(ctx, settings, duration, start_at)
    eligibility = lock_eligibility_window(ctx, user_id, role_id, start)
    if eligibility is None:
        raise Forbidden(
            f"You are not eligible for {parties.role_name} at that time.", code="not_eligible"
        )
    end = _clamp_to_eligibility(start, end, eligibility.end_at)
    guards.require_justification(settings.require_justification_on_activation, justification)
    guards.require_ticket(settings.require_ticket_on_activation, ticket_number, ticket_system)
    active, pending = activation_blockers(ctx, user_id, role_id, start, end)
    if active:
        raise Conflict(
            f"{parties.role_name} is already active for you in that window; extend it instead.",
            code="already_active",
        )
    if pending:
        raise_pending_conflict()
    # Built in memory and written once its final values are known: below for an approval, in
    # provision_activation (after the schedule's id) for a direct activation.
    request = build_request(
        ctx,
        directory_id=directory_id,
        action=RequestAction.SELF_ACTIVATE,
        member_type=MemberType.ACTIVE,
        principal_id=user_id,
        role_id=role_id,
        status=RequestStatus.PROVISIONED,
        start_at=start,
        end_at=end,
        justification=justification,
        ticket_number=ticket_number,
        ticket_system=ticket_system,
        eligibility_id=eligibility.id,
    )
    # MFA last: a wrong code should not burn a valid one on a request that fails anyway.
    if settings.require_mfa_on_activation:
        guards.prove_mfa(ctx, load_user(ctx, directory_id, user_id), totp_code)
        request.mfa_verified = True
    if settings.require_approval_on_activation:
        return _wait_for_approval(ctx, request, settings)
    labels = (parties.user_principal_name, parties.role_name)
    provision_activation(ctx, request, eligibility.id, labels)
    flush_or_conflict(ctx, "The role was activated concurrently.", "already_active")
    return request


def _wait_for_approval(ctx: Ctx, request: RoleRequest, settings: RoleSettings) -> RoleRequest:
    request.status = RequestStatus.PENDING_APPROVAL
    request.approval_deadline = ctx.now + ctx.settings.approval_timeout
    ctx.session.add(request)
    flush_or_conflict(ctx, "There is already a pending request for this role.", "request_pending")
    record(ctx, request_audit(ctx, request, "activation.requested"))
    enqueue(
        ctx,
        "request.pending_approval",
        {
            "request_id": request.id,
            "principal_id": request.principal_id,
            "principal": ctx.actor.label,
            "role_id": request.role_id,
            "approver_ids": [str(a) for a in settings.approver_ids],
            "justification": request.justification,
            "start_at": request.start_at.isoformat() if request.start_at else None,
            "end_at": request.end_at.isoformat() if request.end_at else None,
        },
        directory_id=request.directory_id,
    )
    return request


def request_audit(ctx: Ctx, request: RoleRequest, action: str, **detail: object) -> AuditEntry:
    target_label, role_label = labels_of(ctx, request.principal_id, request.role_id)
    return AuditEntry(
        action=action,
        directory_id=request.directory_id,
        target_user_id=request.principal_id,
        target_label=target_label,
        role_id=request.role_id,
        role_label=role_label,
        request_id=request.id,
        justification=request.justification,
        ticket_number=request.ticket_number,
        ticket_system=request.ticket_system,
        start_at=request.start_at,
        end_at=request.end_at,
        detail={k: v for k, v in detail.items() if v is not None},
    )


def provision_activation(
    ctx: Ctx,
    request: RoleRequest,
    eligibility_id: uuid.UUID,
    labels: tuple[str | None, str | None] | None = None,
) -> Assignment:
    """Create the activation for a granted request (now, or after an approval); `labels`
    (user principal name, role name) when the caller has read them already."""
    assert request.start_at is not None and request.end_at is not None
    assignment = new_assignment(
        ctx,
        directory_id=request.directory_id,
        principal_id=request.principal_id,
        role_id=request.role_id,
        start_at=request.start_at,
        end_at=request.end_at,
        request=request,
        assignment_type=AssignmentType.ACTIVATED,
        eligibility_id=eligibility_id,
    )
    request.status = RequestStatus.PROVISIONED
    if inspect(request).transient:
        # Self-activation's request, never written yet: one INSERT each with their final
        # values, the request first (the assignment references it).
        insert_request(ctx, request)
        direct.insert_object(ctx.session, assignment)
    else:
        ctx.session.add(assignment)
    action = "activation.activated" if request.start_at <= ctx.now else "activation.scheduled"
    audit_schedule(ctx, action, assignment, request, notify="role.activated", labels=labels)
    return assignment
