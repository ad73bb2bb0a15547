"""Pieces every operation shares: opening a request row and mapping duplicate inserts to 409."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from openpim.assignments.models import MemberType, RequestAction, RequestStatus, RoleRequest
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict


def new_request(
    ctx: Ctx,
    *,
    directory_id: uuid.UUID,
    action: RequestAction,
    member_type: MemberType,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    status: RequestStatus,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    justification: str | None = None,
    ticket_number: str | None = None,
    ticket_system: str | None = None,
    target_schedule_id: uuid.UUID | None = None,
    eligibility_id: uuid.UUID | None = None,
) -> RoleRequest:
    request = RoleRequest(
        id=uuid.uuid4(),
        directory_id=directory_id,
        action=action,
        member_type=member_type,
        principal_id=principal_id,
        role_id=role_id,
        requested_by_id=ctx.actor.user_id,
        requested_by_label=ctx.actor.label,
        status=status,
        start_at=start_at,
        end_at=end_at,
        justification=justification,
        ticket_number=ticket_number,
        ticket_system=ticket_system,
        target_schedule_id=target_schedule_id,
        eligibility_id=eligibility_id,
        created_at=ctx.now,
    )
    ctx.session.add(request)
    # Flush now: schedules reference the request, and without ORM relationships the unit of
    # work does not know to insert the request first.
    ctx.session.flush()
    return request


def flush_or_conflict(ctx: Ctx, message: str, code: str) -> None:
    """Flush; a unique-index violation (a concurrent twin won) becomes a clear 409."""
    try:
        ctx.session.flush()
    except IntegrityError:
        raise Conflict(message, code=code) from None
