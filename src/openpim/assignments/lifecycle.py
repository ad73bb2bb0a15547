"""Creating and ending schedules, each with its audit record and outbox row.

Every operation that starts or ends a schedule goes through these few functions, so a schedule
never changes without its history line, and "who ended it and why" is recorded the same way
whether an admin removed it, its owner deactivated it, or its eligibility went away.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    Eligibility,
    EndReason,
    RoleRequest,
)
from openpim.audit.writer import AuditEntry, record
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.notifications.outbox import enqueue
from openpim.roles.models import RoleDefinition

Schedule = Eligibility | Assignment


def schedule_kind(schedule: Schedule) -> str:
    """'eligibility', 'assignment' (assigned active) or 'activation'."""
    if isinstance(schedule, Eligibility):
        return "eligibility"
    return "activation" if schedule.assignment_type == AssignmentType.ACTIVATED else "assignment"


def labels_of(ctx: Ctx, user_id: uuid.UUID, role_id: uuid.UUID) -> tuple[str | None, str | None]:
    user = ctx.session.get(User, user_id)
    role = ctx.session.get(RoleDefinition, role_id)
    return (
        user.user_principal_name if user else None,
        role.display_name if role else None,
    )


def audit_schedule(
    ctx: Ctx,
    action: str,
    schedule: Schedule,
    request: RoleRequest | None,
    *,
    detail: dict[str, Any] | None = None,
    notify: str | None = None,
    labels: tuple[str | None, str | None] | None = None,
) -> None:
    """Audit a schedule's change (and queue `notify`); `labels` (user principal name, role
    name) when the caller has them, else read here."""
    target_label, role_label = labels or labels_of(ctx, schedule.principal_id, schedule.role_id)
    record(
        ctx,
        AuditEntry(
            action=action,
            directory_id=schedule.directory_id,
            target_user_id=schedule.principal_id,
            target_label=target_label,
            role_id=schedule.role_id,
            role_label=role_label,
            request_id=request.id if request else None,
            schedule_id=schedule.id,
            justification=request.justification if request else None,
            ticket_number=request.ticket_number if request else None,
            ticket_system=request.ticket_system if request else None,
            start_at=schedule.start_at,
            end_at=schedule.end_at,
            detail=detail or {},
        ),
    )
    if notify:
        enqueue(
            ctx,
            notify,
            {
                "schedule_id": schedule.id,
                "kind": schedule_kind(schedule),
                "principal_id": schedule.principal_id,
                "principal": target_label,
                "role_id": schedule.role_id,
                "role": role_label,
                "start_at": schedule.start_at.isoformat(),
                "end_at": schedule.end_at.isoformat() if schedule.end_at else None,
                "request_id": request.id if request else None,
                "justification": request.justification if request else None,
                "ticket_number": request.ticket_number if request else None,
                "ticket_system": request.ticket_system if request else None,
                "actor": ctx.actor.label,
                **(detail or {}),
            },
            directory_id=schedule.directory_id,
        )


def create_eligibility(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    start_at: datetime,
    end_at: datetime | None,
    request: RoleRequest | None,
) -> Eligibility:
    row = Eligibility(
        id=uuid.uuid4(),
        directory_id=directory_id,
        principal_id=principal_id,
        role_id=role_id,
        start_at=start_at,
        end_at=end_at,
        request_id=request.id if request else None,
        created_via="pim",
        created_at=ctx.now,
    )
    ctx.session.add(row)
    if request is not None:
        request.result_schedule_id = row.id
    return row


class AssignmentFields(TypedDict):
    directory_id: uuid.UUID
    principal_id: uuid.UUID
    role_id: uuid.UUID
    start_at: datetime
    end_at: datetime | None
    request: RoleRequest | None
    assignment_type: AssignmentType
    eligibility_id: NotRequired[uuid.UUID | None]


def create_assignment(ctx: Ctx, **fields: Unpack[AssignmentFields]) -> Assignment:
    """A new assignment, added to the session (written at the next flush)."""
    row = new_assignment(ctx, **fields)
    ctx.session.add(row)
    return row


def new_assignment(ctx: Ctx, **fields: Unpack[AssignmentFields]) -> Assignment:
    """A new assignment in memory only: the caller adds it, or writes it at once
    (db.direct.insert_object) once what it references is written."""
    request = fields["request"]
    row = Assignment(
        id=uuid.uuid4(),
        directory_id=fields["directory_id"],
        principal_id=fields["principal_id"],
        role_id=fields["role_id"],
        start_at=fields["start_at"],
        end_at=fields["end_at"],
        request_id=request.id if request else None,
        created_via="pim",
        created_at=ctx.now,
        assignment_type=fields["assignment_type"],
        eligibility_id=fields.get("eligibility_id"),
    )
    if request is not None:
        request.result_schedule_id = row.id
    return row


def end_schedule(
    ctx: Ctx,
    schedule: Schedule,
    reason: EndReason,
    request: RoleRequest | None,
    *,
    notify: bool = True,
) -> None:
    """End a schedule now (or cancel it if it had not started) and record why."""
    now = ctx.now
    if schedule.end_at is not None and schedule.end_at <= now:
        return
    schedule.end_at = now if schedule.start_at <= now else schedule.start_at
    schedule.ended_reason = reason
    schedule.ended_by_request_id = request.id if request else None
    schedule.end_recorded_at = now
    kind = schedule_kind(schedule)
    action = {
        EndReason.DEACTIVATED: "activation.deactivated",
        EndReason.REMOVED: f"{kind}.removed",
        EndReason.CONVERTED: f"{kind}.converted",
        EndReason.ELIGIBILITY_ENDED: "activation.ended",
        EndReason.USER_DISABLED: "activation.ended",
        EndReason.REPLACED: f"{kind}.replaced",
        EndReason.EXPIRED: f"{kind}.expired",
    }[reason]
    audit_schedule(
        ctx,
        action,
        schedule,
        request,
        detail={"reason": str(reason)},
        notify=f"{kind}.ended" if notify else None,
    )
