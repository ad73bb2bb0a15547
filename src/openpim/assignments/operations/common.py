"""Pieces every operation shares: opening a request row and mapping duplicate inserts to 409."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from openpim.assignments.models import MemberType, RequestAction, RequestStatus, RoleRequest
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict


def build_request(
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
    """A request in memory only, every column set: `new_request` or `insert_request` writes it."""
    return RoleRequest(
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
        approval_deadline=None,
        decided_at=None,
        decided_by_id=None,
        decision_justification=None,
        mfa_verified=False,
        failure_reason=None,
        result_schedule_id=None,
    )


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
    """A request, written at once."""
    request = build_request(
        ctx,
        directory_id=directory_id,
        action=action,
        member_type=member_type,
        principal_id=principal_id,
        role_id=role_id,
        status=status,
        start_at=start_at,
        end_at=end_at,
        justification=justification,
        ticket_number=ticket_number,
        ticket_system=ticket_system,
        target_schedule_id=target_schedule_id,
        eligibility_id=eligibility_id,
    )
    ctx.session.add(request)
    # Flush now: schedules reference the request, and without ORM relationships the unit of
    # work does not know to insert the request first.
    ctx.session.flush()
    return request


_REQUEST_COLUMNS = tuple((p.key, p.columns[0].key) for p in RoleRequest.__mapper__.column_attrs)
_INSERT_REQUEST = insert(cast(Table, RoleRequest.__table__))


def insert_request(ctx: Ctx, request: RoleRequest) -> None:
    """Write a request built by `build_request` with one Core INSERT, right now.

    For a request whose row is final when written (a direct activation, once its schedule's id
    is known): no flush and no later UPDATE. The object then joins the session as if loaded,
    so later changes to it are still written. Pending ORM changes are not flushed first.
    """
    values = {column: getattr(request, key) for key, column in _REQUEST_COLUMNS}
    with ctx.session.no_autoflush:
        ctx.session.execute(_INSERT_REQUEST, values)
    make_transient_to_detached(request)
    ctx.session.add(request)


def flush_or_conflict(ctx: Ctx, message: str, code: str) -> None:
    """Flush; a unique-index violation (a concurrent twin won) becomes a clear 409."""
    try:
        ctx.session.flush()
    except IntegrityError:
        raise Conflict(message, code=code) from None
