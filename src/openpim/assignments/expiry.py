"""Recording the natural end of schedules: one audit event and one outbox row per ended schedule.

Nobody's access depends on this: "active" is computed at read time (start_at <= t < end_at), so
a schedule stops granting its role at end_at whether or not the worker has run. What the worker
adds is the record of it (history, notifications, downstream revocation), exactly once.

Exactly once, in one transaction per batch:
- due rows are claimed with SELECT ... FOR UPDATE OF <schedule table> SKIP LOCKED on PostgreSQL
  (two workers take disjoint batches and neither waits for the other); on SQLite the write unit
  of work already holds the database lock (BEGIN IMMEDIATE), so workers take turns;
- the UPDATE that sets end_recorded_at repeats "end_recorded_at IS NULL" and only the rows it
  actually changed (RETURNING) get an audit event, so even a claim that went stale cannot
  produce a second record;
- the audit events and outbox rows are written in the same transaction as the UPDATE, so a
  crash anywhere in the batch leaves the batch as if it never started.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, Select, Table, and_, exists, func, select, update

from openpim.assignments.models import Assignment, AssignmentType, Eligibility, EndReason
from openpim.audit import writer
from openpim.audit.writer import AuditEntry
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.notifications import outbox
from openpim.roles.models import RoleDefinition

ScheduleTable = Literal["assignments", "eligibilities"]
SCHEDULE_TABLES: tuple[ScheduleTable, ...] = ("assignments", "eligibilities")

ACTIVATION_EXPIRED = "activation.expired"
ASSIGNMENT_EXPIRED = "assignment.expired"
ELIGIBILITY_EXPIRED = "eligibility.expired"

_TABLES: dict[ScheduleTable, Table] = {
    "assignments": Assignment.__table__,  # type: ignore[dict-item]
    "eligibilities": Eligibility.__table__,  # type: ignore[dict-item]
}
_users: Table = User.__table__  # type: ignore[assignment]
_roles: Table = RoleDefinition.__table__  # type: ignore[assignment]


@dataclass
class BatchResult:
    """What one batch did: how many rows it claimed and how many events it wrote, by action."""

    claimed: int = 0
    recorded: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.recorded.values())


def _due(table: Table, now: datetime) -> ColumnElement[bool]:
    # end_at IS NOT NULL and end_recorded_at IS NULL repeat the partial index predicate
    # (ix_*_end_pending) so both databases pick that index.
    return and_(
        table.c.end_at.is_not(None),
        table.c.end_recorded_at.is_(None),
        table.c.end_at <= now,
    )


def ends_due_clause(schedule: ScheduleTable, now: datetime) -> ColumnElement[bool]:
    """True when a schedule end is due in that table: lets an idle worker skip the write lock."""
    return exists().where(_due(_TABLES[schedule], now))


def _claim_statement(table: Table, now: datetime, limit: int) -> Select[Any]:
    # One query per batch fetches the rows and the labels the audit needs (UPN, role name): no
    # per-row lookups. The lock covers only the schedule rows (OF <table>), not the users and
    # roles joined for labels, which other writers must stay free to update.
    columns = [
        table.c.id,
        table.c.directory_id,
        table.c.principal_id,
        table.c.role_id,
        table.c.start_at,
        table.c.end_at,
        table.c.request_id,
        table.c.ended_reason,
        _users.c.user_principal_name,
        _roles.c.display_name.label("role_name"),
    ]
    if "assignment_type" in table.c:
        columns += [table.c.assignment_type, table.c.eligibility_id]
    return (
        select(*columns)
        .join(_users, _users.c.id == table.c.principal_id)
        .join(_roles, _roles.c.id == table.c.role_id)
        .where(_due(table, now))
        .order_by(table.c.end_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=table)
    )


def _action(schedule: ScheduleTable, row: Row[Any]) -> str:
    if schedule == "eligibilities":
        return ELIGIBILITY_EXPIRED
    if row.assignment_type == AssignmentType.ACTIVATED:
        return ACTIVATION_EXPIRED
    return ASSIGNMENT_EXPIRED


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_ended_schedules(ctx: Ctx, schedule: ScheduleTable, *, limit: int) -> BatchResult:
    """Record up to `limit` schedules of one table whose end_at <= ctx.now and whose end is not
    recorded yet. Call inside a write unit of work; the caller commits the batch as a whole.
    """
    table = _TABLES[schedule]
    now = ctx.now
    rows: Sequence[Row[Any]] = ctx.session.execute(_claim_statement(table, now, limit)).all()
    result = BatchResult(claimed=len(rows))
    if not rows:
        return result

    updated = ctx.session.execute(
        update(table)
        .where(table.c.id.in_([row.id for row in rows]), table.c.end_recorded_at.is_(None))
        .values(
            end_recorded_at=now,
            ended_reason=func.coalesce(table.c.ended_reason, EndReason.EXPIRED.value),
        )
        .returning(table.c.id, table.c.ended_reason)
    ).all()
    reasons = {row.id: row.ended_reason for row in updated}

    entries: list[AuditEntry] = []
    messages: list[outbox.Message] = []
    for row in rows:
        if row.id not in reasons:
            continue  # recorded by someone else after we read it; theirs is the record
        action = _action(schedule, row)
        reason = reasons[row.id]
        detail: dict[str, Any] = {"reason": reason}
        # The same payload shape as lifecycle.audit_schedule's, so one renderer serves both.
        payload: dict[str, Any] = {
            "schedule_id": row.id,
            "kind": action.split(".", 1)[0],
            "principal_id": row.principal_id,
            "principal": row.user_principal_name,
            "role_id": row.role_id,
            "role": row.role_name,
            "start_at": _iso(row.start_at),
            "end_at": _iso(row.end_at),
            "request_id": row.request_id,
            "actor": ctx.actor.label,
            "reason": reason,
        }
        if schedule == "assignments" and row.eligibility_id is not None:
            detail["eligibility_id"] = str(row.eligibility_id)
            payload["eligibility_id"] = row.eligibility_id
        entries.append(
            AuditEntry(
                action=action,
                directory_id=row.directory_id,
                target_user_id=row.principal_id,
                target_label=row.user_principal_name,
                role_id=row.role_id,
                role_label=row.role_name,
                request_id=row.request_id,
                schedule_id=row.id,
                start_at=row.start_at,
                end_at=row.end_at,
                detail=detail,
            )
        )
        messages.append(outbox.Message(action, payload, row.directory_id))
        result.recorded[action] += 1
    # Looked up through the modules so fault-injection tests can replace them.
    outbox.enqueue_many(ctx, messages)
    writer.record_many(ctx, entries)
    return result
