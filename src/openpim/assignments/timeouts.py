"""Approval requests nobody decided in time become TimedOut, audited and announced exactly once.

Same discipline as expiry.py: claim due requests with FOR UPDATE OF role_requests SKIP LOCKED
(PostgreSQL) or under the SQLite write lock, change only rows that are still pending (the
UPDATE repeats the status and deadline test and returns what it changed), and write the audit
events and outbox rows in the same transaction. An approver deciding at the same moment locks
the same request row, so exactly one of "approved/denied" and "timed out" wins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, and_, exists, select, update

from openpim.assignments.expiry import BatchResult
from openpim.assignments.models import PENDING_STATUSES, RequestStatus, RoleRequest
from openpim.audit import writer
from openpim.audit.writer import AuditEntry
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.notifications import outbox
from openpim.roles.models import RoleDefinition

REQUEST_TIMED_OUT = "request.timed_out"

_requests: Table = RoleRequest.__table__  # type: ignore[assignment]
_users: Table = User.__table__  # type: ignore[assignment]
_roles: Table = RoleDefinition.__table__  # type: ignore[assignment]
_PENDING = [status.value for status in PENDING_STATUSES]


def _overdue(now: datetime) -> ColumnElement[bool]:
    # A request without a deadline never times out by itself; the operation that created it
    # decides whether it has one.
    return and_(
        _requests.c.status.in_(_PENDING),
        _requests.c.approval_deadline.is_not(None),
        _requests.c.approval_deadline <= now,
    )


def timeouts_due_clause(now: datetime) -> ColumnElement[bool]:
    """True when any pending request is past its deadline (the worker's cheap idle check)."""
    return exists().where(_overdue(now))


def expire_overdue_requests(ctx: Ctx, *, limit: int) -> BatchResult:
    """Time out up to `limit` pending requests whose approval_deadline <= ctx.now.

    Call inside a write unit of work; the caller commits the batch as a whole.
    """
    now = ctx.now
    rows = ctx.session.execute(
        select(
            _requests.c.id,
            _requests.c.directory_id,
            _requests.c.action,
            _requests.c.member_type,
            _requests.c.principal_id,
            _requests.c.role_id,
            _requests.c.requested_by_id,
            _requests.c.requested_by_label,
            _requests.c.status,
            _requests.c.start_at,
            _requests.c.end_at,
            _requests.c.justification,
            _requests.c.ticket_number,
            _requests.c.ticket_system,
            _requests.c.approval_deadline,
            _requests.c.target_schedule_id,
            _requests.c.eligibility_id,
            _users.c.user_principal_name,
            _roles.c.display_name.label("role_name"),
        )
        .join(_users, _users.c.id == _requests.c.principal_id)
        .join(_roles, _roles.c.id == _requests.c.role_id)
        .where(_overdue(now))
        .order_by(_requests.c.approval_deadline, _requests.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=_requests)
    ).all()
    result = BatchResult(claimed=len(rows))
    if not rows:
        return result

    changed = set(
        ctx.session.execute(
            update(_requests)
            .where(_requests.c.id.in_([row.id for row in rows]), _overdue(now))
            .values(status=RequestStatus.TIMED_OUT.value, decided_at=now)
            .returning(_requests.c.id)
        ).scalars()
    )

    entries: list[AuditEntry] = []
    messages: list[outbox.Message] = []
    for row in rows:
        if row.id not in changed:
            continue  # decided or cancelled after we read it: that decision stands
        entries.append(
            AuditEntry(
                action=REQUEST_TIMED_OUT,
                directory_id=row.directory_id,
                target_user_id=row.principal_id,
                target_label=row.user_principal_name,
                role_id=row.role_id,
                role_label=row.role_name,
                request_id=row.id,
                schedule_id=row.target_schedule_id,
                justification=row.justification,
                ticket_number=row.ticket_number,
                ticket_system=row.ticket_system,
                start_at=row.start_at,
                end_at=row.end_at,
                detail={
                    "request_action": row.action,
                    "member_type": row.member_type,
                    "previous_status": row.status,
                    "approval_deadline": row.approval_deadline.isoformat(),
                },
            )
        )
        messages.append(
            outbox.Message(
                REQUEST_TIMED_OUT,
                {
                    "request_id": row.id,
                    "request_action": row.action,
                    "member_type": row.member_type,
                    "principal_id": row.principal_id,
                    "principal": row.user_principal_name,
                    "requested_by_id": row.requested_by_id,
                    "requested_by": row.requested_by_label,
                    "role_id": row.role_id,
                    "role": row.role_name,
                    "start_at": row.start_at.isoformat() if row.start_at else None,
                    "end_at": row.end_at.isoformat() if row.end_at else None,
                    "justification": row.justification,
                    "actor": ctx.actor.label,
                    "previous_status": row.status,
                    "approval_deadline": row.approval_deadline.isoformat(),
                    "eligibility_id": row.eligibility_id,
                },
                row.directory_id,
            )
        )
        result.recorded[REQUEST_TIMED_OUT] += 1
    outbox.enqueue_many(ctx, messages)
    writer.record_many(ctx, entries)
    return result
