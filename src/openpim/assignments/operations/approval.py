"""Decisions on pending requests: approve, deny, cancel.

The first decision wins: the status moves out of Pending with a conditional UPDATE
(... WHERE status = 'Pending...'), so of several simultaneous approvers exactly one changes the
row and the others get a 409. Nobody decides on their own request, and a disabled account
decides nothing. Disabling a user withdraws their pending requests (`cancel_for_disabled_user`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select, update

from openpim.assignments import guards
from openpim.assignments.models import (
    PENDING_STATUSES,
    Assignment,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.assignments.operations.activate import provision_activation, request_audit
from openpim.assignments.operations.update import admin_extend, admin_renew
from openpim.assignments.queries import (
    able_approvers,
    find_eligibility_covering,
    load_request,
    overlapping,
)
from openpim.audit.writer import record
from openpim.auth.permissions import can_manage
from openpim.directory.models import User
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden, ValidationFailed
from openpim.notifications.outbox import enqueue
from openpim.policies.service import get_role_settings
from openpim.policies.settings import MINIMUM_SCHEDULE


def can_decide(ctx: Ctx, request: RoleRequest) -> bool:
    """Named approvers decide activations; with none named, or for extensions, the PRAs do.

    When none of the named approvers can act (each disabled, gone from the directory, or the
    requester), the PRAs decide instead of the request waiting out its deadline: they could
    name themselves in the role's settings anyway, so this grants them nothing new.
    """
    requesters = (request.principal_id, request.requested_by_id)
    if ctx.actor.user_id is not None and ctx.actor.user_id in requesters:
        return False
    if request.action == RequestAction.SELF_ACTIVATE and ctx.actor.kind == ActorKind.USER:
        approvers = get_role_settings(ctx, request.directory_id, request.role_id).approver_ids
        if approvers:
            if ctx.actor.user_id in approvers and ctx.actor.directory_id == request.directory_id:
                return True
            return can_manage(ctx, request.directory_id) and not able_approvers(
                ctx.session, request.directory_id, approvers, requesters
            )
    return can_manage(ctx, request.directory_id)


def _require_decider(ctx: Ctx, request: RoleRequest) -> None:
    if ctx.actor.user_id is not None and ctx.actor.user_id in (
        request.principal_id,
        request.requested_by_id,
    ):
        raise Forbidden("You cannot decide on your own request.", code="cannot_approve_own_request")
    _require_enabled_decider(ctx)
    if not can_decide(ctx, request):
        raise Forbidden("You are not an approver of this request.", code="not_an_approver")


def _require_enabled_decider(ctx: Ctx) -> None:
    """A disabled approver decides nothing, even with a credential checked a moment before the
    disable committed: the account row is read under a share lock, so a decision and a disable
    of the same person are ordered (PostgreSQL; SQLite writers are serial anyway)."""
    if ctx.actor.user_id is None:
        return  # the operator
    enabled = ctx.session.execute(
        select(User.enabled).where(User.id == ctx.actor.user_id).with_for_update(read=True)
    ).scalar_one_or_none()
    if not enabled:
        raise Forbidden("Your account is disabled.", code="account_disabled")


def _claim(ctx: Ctx, request: RoleRequest, new_status: RequestStatus, justification: str) -> None:
    """Move the request out of Pending, or 409 if someone else already did."""
    if request.approval_deadline is not None and request.approval_deadline <= ctx.now:
        raise Conflict(
            "This request was not decided within its deadline and has expired.",
            code="request_timed_out",
        )
    result = ctx.session.execute(
        update(RoleRequest)
        .where(RoleRequest.id == request.id, RoleRequest.status.in_(PENDING_STATUSES))
        .values(
            status=new_status,
            decided_at=ctx.now,
            decided_by_id=ctx.actor.user_id,
            decision_justification=justification,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        ctx.session.refresh(request)
        raise Conflict(
            f"This request was already decided or withdrawn (status {request.status}).",
            code="request_already_decided",
        )
    ctx.session.refresh(request)


def _decision_text(justification: str | None) -> str:
    text = guards.clean_text(justification, "justification")
    if not text:
        raise ValidationFailed(
            "A decision needs a justification.",
            code="justification_required",
            field="justification",
        )
    return text


def approve(ctx: Ctx, request_id: uuid.UUID, justification: str | None) -> RoleRequest:
    request = load_request(ctx, request_id)
    _require_decider(ctx, request)
    text = _decision_text(justification)
    _claim(ctx, request, RequestStatus.GRANTED, text)
    record(ctx, request_audit(ctx, request, "request.approved", decision=text))
    _notify_requester(ctx, request, "request.approved")
    if request.action == RequestAction.SELF_ACTIVATE:
        _provision_approved_activation(ctx, request)
    elif request.action in (RequestAction.SELF_EXTEND, RequestAction.SELF_RENEW):
        _apply_extension(ctx, request)
    return request


def _provision_approved_activation(ctx: Ctx, request: RoleRequest) -> None:
    assert request.start_at is not None and request.end_at is not None
    duration = request.end_at - request.start_at
    if request.start_at < ctx.now:
        # Approved later than the requested start: the user still gets the time they asked for.
        request.start_at, request.end_at = ctx.now, ctx.now + duration
    eligibility = find_eligibility_covering(
        ctx, request.principal_id, request.role_id, request.start_at, lock=True
    )
    reason = None
    if eligibility is None:
        reason = "The requester is no longer eligible for this role."
    else:
        if eligibility.end_at is not None and request.end_at > eligibility.end_at:
            request.end_at = eligibility.end_at
        if request.end_at - request.start_at < MINIMUM_SCHEDULE:
            reason = "The requester's eligibility ends in less than 5 minutes."
        elif overlapping(
            ctx.session,
            Assignment,
            request.principal_id,
            request.role_id,
            request.start_at,
            request.end_at,
        ):
            reason = "The role is already active for the requester."
    if reason is not None or eligibility is None:
        request.status = RequestStatus.FAILED
        request.failure_reason = reason
        record(ctx, request_audit(ctx, request, "activation.failed", reason=reason))
        return
    provision_activation(ctx, request, eligibility.id)


def _apply_extension(ctx: Ctx, request: RoleRequest) -> None:
    """An approved selfExtend/selfRenew runs as the admin change it asked for."""
    change = admin_extend if request.action == RequestAction.SELF_EXTEND else admin_renew
    applied = change(
        ctx,
        directory_id=request.directory_id,
        principal_id=request.principal_id,
        role_id=request.role_id,
        member_type=MemberType(request.member_type),
        end_at=request.end_at,
        justification=request.justification,
    )
    request.status = RequestStatus.PROVISIONED
    request.result_schedule_id = applied.result_schedule_id or applied.target_schedule_id


def deny(ctx: Ctx, request_id: uuid.UUID, justification: str | None) -> RoleRequest:
    request = load_request(ctx, request_id)
    _require_decider(ctx, request)
    text = _decision_text(justification)
    _claim(ctx, request, RequestStatus.DENIED, text)
    record(ctx, request_audit(ctx, request, "request.denied", decision=text))
    _notify_requester(ctx, request, "request.denied")
    return request


def cancel(ctx: Ctx, request_id: uuid.UUID, justification: str | None = None) -> RoleRequest:
    """The requester withdraws a pending request; a PRA may cancel any."""
    request = load_request(ctx, request_id)
    own = ctx.actor.user_id is not None and ctx.actor.user_id in (
        request.principal_id,
        request.requested_by_id,
    )
    if not own and not can_manage(ctx, request.directory_id):
        raise Forbidden(
            "Only the requester or a Privileged Role Administrator can cancel.",
            code="not_requester",
        )
    text = guards.clean_text(justification, "justification") or "canceled"
    _claim(ctx, request, RequestStatus.CANCELED, text)
    record(ctx, request_audit(ctx, request, "request.canceled", decision=text))
    return request


def cancel_for_disabled_user(ctx: Ctx, user: User) -> int:
    """Withdraw every pending request by or for `user`, who is being disabled in this same
    transaction; each is audited ("request.canceled", reason user_disabled). The rows are
    locked, so an approval racing the disable either committed first (and the disable then
    ends the activation it made) or finds the request no longer pending (409)."""
    rows = (
        ctx.session.execute(
            select(RoleRequest)
            .where(
                RoleRequest.directory_id == user.directory_id,
                RoleRequest.status.in_(PENDING_STATUSES),
                or_(RoleRequest.principal_id == user.id, RoleRequest.requested_by_id == user.id),
            )
            .with_for_update()
        )
        .scalars()
        .all()
    )
    text = f"Withdrawn: {user.user_principal_name} was disabled."
    for request in rows:
        request.status = RequestStatus.CANCELED
        request.decided_at = ctx.now
        request.decided_by_id = ctx.actor.user_id
        request.decision_justification = text
        record(
            ctx,
            request_audit(ctx, request, "request.canceled", decision=text, reason="user_disabled"),
        )
    return len(rows)


def _notify_requester(ctx: Ctx, request: RoleRequest, event: str) -> None:
    enqueue(
        ctx,
        event,
        {
            "request_id": request.id,
            "action": request.action,
            "principal_id": request.principal_id,
            "role_id": request.role_id,
            "decided_by": ctx.actor.label,
            "decision": request.decision_justification,
        },
        directory_id=request.directory_id,
    )
