"""Expiry reminders: 14 days and 1 day before an eligibility or assignment ends.

A scan queues a "reminder.expiring" event for each schedule that has entered a threshold's
window, exactly once per (schedule, threshold, end date): the reminder row's primary key holds
that even when two workers scan at once (insert ... on conflict do nothing). Only the nearest
threshold fires: an assignment made with three days left gets the 1-day reminder, not a
"14 days" one. Activations get none (they last hours, and their owner chose the end).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.notifications.models import ExpiryReminder
from openpim.notifications.outbox import enqueue
from openpim.runtime import Runtime

REMINDER_EVENT = "reminder.expiring"
THRESHOLDS = (timedelta(days=14), timedelta(days=1))

_reminders = cast(Table, ExpiryReminder.__table__)
_users = cast(Table, User.__table__)


def insert_once(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    RETURNING tells, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT here.
    """
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    statement = module.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None


def _windows() -> list[tuple[timedelta, timedelta]]:
    """(threshold, the next smaller threshold): a schedule is in a threshold's window when
    its remaining time is at most the threshold and more than the next one."""
    ordered = sorted(THRESHOLDS, reverse=True)
    return [
        (t, ordered[i + 1] if i + 1 < len(ordered) else timedelta(0)) for i, t in enumerate(ordered)
    ]


def scan_reminders(ctx: Ctx, *, limit: int = 500) -> int:
    """Queue due reminders (at most `limit`) in the caller's unit of work; returns how many."""
    now = ctx.now
    queued = 0
    for model in (Eligibility, Assignment):
        table = cast(Table, model.__table__)
        for threshold, lower in _windows():
            if queued >= limit:
                return queued
            days = threshold.days
            already = exists().where(
                _reminders.c.schedule_id == table.c.id,
                _reminders.c.threshold_days == days,
                _reminders.c.end_at == table.c.end_at,
            )
            conditions = [
                # Not ended early, and the partial index on pending ends serves the range.
                table.c.end_recorded_at.is_(None),
                table.c.start_at <= now,
                table.c.end_at > now + lower,
                table.c.end_at <= now + threshold,
                _users.c.enabled.is_(True),
                ~already,
            ]
            if model is Assignment:
                conditions.append(table.c.assignment_type == AssignmentType.ASSIGNED.value)
            rows = ctx.session.execute(
                select(
                    table.c.id,
                    table.c.directory_id,
                    table.c.principal_id,
                    table.c.role_id,
                    table.c.start_at,
                    table.c.end_at,
                )
                .select_from(table.join(_users, _users.c.id == table.c.principal_id))
                .where(and_(*conditions))
                .order_by(table.c.end_at)
                .limit(limit - queued)
            ).all()
            kind = "eligibility" if model is Eligibility else "assignment"
            for row in rows:
                queued += _queue(ctx, row, kind, days, now)
    return queued


def _queue(ctx: Ctx, row: Any, kind: str, days: int, now: datetime) -> int:
    outbox_id = uuid.uuid4()
    values = {
        "schedule_id": row.id,
        "threshold_days": days,
        "end_at": row.end_at,
        "created_at": now,
        "outbox_id": outbox_id,
    }
    if not insert_once(ctx.session, _reminders, values):
        return 0  # another worker queued it a moment ago
    enqueue(
        ctx,
        REMINDER_EVENT,
        {
            "schedule_id": row.id,
            "kind": kind,
            "principal_id": row.principal_id,
            "role_id": row.role_id,
            "start_at": row.start_at.isoformat(),
            "end_at": row.end_at.isoformat(),
            "threshold_days": days,
        },
        directory_id=row.directory_id,
        message_id=outbox_id,
    )
    return 1


def scan(runtime: Runtime, *, limit: int = 500) -> int:
    """For the worker: queue every due reminder, one transaction per `limit` of them."""
    from openpim.notifications.delivery import DELIVERY_ACTOR

    total = 0
    while True:
        with runtime.unit(DELIVERY_ACTOR) as ctx:
            queued = scan_reminders(ctx, limit=limit)
        total += queued
        if queued < limit:
            return total
