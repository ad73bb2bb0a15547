"""Pieces every operation shares: opening a request row and mapping duplicate inserts to 409."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NotRequired, TypedDict, Unpack

from sqlalchemy.exc import IntegrityError

from openpim.assignments.models import MemberType, RequestAction, RequestStatus, RoleRequest
from openpim.db import direct
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict


class RequestFields(TypedDict):
    """What an operation says about the request it opens; the rest is set by build_request."""

    directory_id: uuid.UUID
    action: RequestAction
    member_type: MemberType
    principal_id: uuid.UUID
    role_id: uuid.UUID
    status: RequestStatus
    start_at: NotRequired[datetime | None]
    end_at: NotRequired[datetime | None]
    justification: NotRequired[str | None]
    ticket_number: NotRequired[str | None]
    ticket_system: NotRequired[str | None]
    target_schedule_id: NotRequired[uuid.UUID | None]
    eligibility_id: NotRequired[uuid.UUID | None]


_UNSET_BY_OPERATIONS = {
    "start_at": None,
    "end_at": None,
    "justification": None,
    "ticket_number": None,
    "ticket_system": None,
    "target_schedule_id": None,
    "eligibility_id": None,
    "approval_deadline": None,
    "decided_at": None,
    "decided_by_id": None,
    "decision_justification": None,
    "mfa_verified": False,
    "failure_reason": None,
    "result_schedule_id": None,
}


def build_request(ctx: Ctx, **fields: Unpack[RequestFields]) -> RoleRequest:
    """A request in memory only, every column set: `new_request` or `insert_request` writes it."""
    return RoleRequest(
        **{**_UNSET_BY_OPERATIONS, **fields},
        id=uuid.uuid4(),
        requested_by_id=ctx.actor.user_id,
        requested_by_label=ctx.actor.label,
        created_at=ctx.now,
    )


def new_request(ctx: Ctx, **fields: Unpack[RequestFields]) -> RoleRequest:
    """A request, written at once."""
    request = build_request(ctx, **fields)
    ctx.session.add(request)
    # Flush now: schedules reference the request, and without ORM relationships the unit of
    # work does not know to insert the request first.
    ctx.session.flush()
    return request


def insert_request(ctx: Ctx, request: RoleRequest) -> None:
    """Write a request built by `build_request` with one INSERT, right now (db.direct).

    For a request whose row is final when written (a direct activation, once its schedule's id
    is known): no flush and no later UPDATE. The object then joins the session as if loaded,
    so later changes to it are still written. Pending ORM changes are not flushed first.
    """
    direct.insert_object(ctx.session, request)


def flush_or_conflict(ctx: Ctx, message: str, code: str) -> None:
    """Flush; a unique-index violation (a concurrent twin won) becomes a clear 409."""
    try:
        ctx.session.flush()
    except IntegrityError:
        raise Conflict(message, code=code) from None
