"""The weekly digest: once per directory per ISO week, about the week before.

The first scan of a new ISO week (Monday 00:00 UTC onward) queues one "digest.weekly" event per
PIM-enabled directory, with the numbers computed then: activations and "made permanent" in
the previous week, active assignments made inside and outside PIM, eligible assignments, and
the roles with the most members. A marker row keyed by directory and week makes it exactly
once, however many workers scan.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, distinct, func, or_, select

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.audit.models import AuditEvent
from openpim.directory.models import Directory
from openpim.kit.context import Ctx
from openpim.notifications.models import NotificationMarker
from openpim.notifications.outbox import enqueue
from openpim.notifications.reminders import insert_once
from openpim.roles.models import RoleDefinition
from openpim.runtime import Runtime

DIGEST_EVENT = "digest.weekly"
TOP_ROLES = 5
_markers = cast(Table, NotificationMarker.__table__)


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the ISO week `now` falls in."""
    monday = now.date() - timedelta(days=now.isoweekday() - 1)
    return datetime.combine(monday, time(0), tzinfo=now.tzinfo)


def week_key(now: datetime) -> str:
    iso = now.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _live(model: type[Assignment] | type[Eligibility], now: datetime) -> Any:
    return (model.start_at <= now) & or_(model.end_at.is_(None), model.end_at > now)


def compute(ctx: Ctx, directory_id: uuid.UUID, start: datetime, end: datetime) -> dict[str, Any]:
    s, now = ctx.session, ctx.now
    activations = s.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.directory_id == directory_id,
            Assignment.assignment_type == AssignmentType.ACTIVATED.value,
            Assignment.created_at >= start,
            Assignment.created_at < end,
        )
    )
    made_permanent = s.scalar(
        select(func.count(AuditEvent.seq)).where(
            AuditEvent.action == "assignment.made_permanent",
            AuditEvent.directory_id == directory_id,
            AuditEvent.occurred_at >= start,
            AuditEvent.occurred_at < end,
        )
    )
    assigned = select(Assignment.created_via, func.count(Assignment.id)).where(
        Assignment.directory_id == directory_id,
        Assignment.assignment_type == AssignmentType.ASSIGNED.value,
        _live(Assignment, now),
    )
    by_origin = dict(s.execute(assigned.group_by(Assignment.created_via)).all())
    eligible = s.scalar(
        select(func.count(Eligibility.id)).where(
            Eligibility.directory_id == directory_id, _live(Eligibility, now)
        )
    )
    return {
        "activations": int(activations or 0),
        "made_permanent": int(made_permanent or 0),
        "assignments_in_pim": int(by_origin.get("pim", 0)),
        "assignments_outside_pim": int(sum(v for k, v in by_origin.items() if k != "pim")),
        "eligible_assignments": int(eligible or 0),
        "top_roles": _top_roles(ctx, directory_id),
    }


def _top_roles(ctx: Ctx, directory_id: uuid.UUID) -> list[dict[str, Any]]:
    s, now = ctx.session, ctx.now
    active = dict(
        s.execute(
            select(Assignment.role_id, func.count(distinct(Assignment.principal_id)))
            .where(Assignment.directory_id == directory_id, _live(Assignment, now))
            .group_by(Assignment.role_id)
        ).all()
    )
    eligible = dict(
        s.execute(
            select(Eligibility.role_id, func.count(distinct(Eligibility.principal_id)))
            .where(Eligibility.directory_id == directory_id, _live(Eligibility, now))
            .group_by(Eligibility.role_id)
        ).all()
    )
    role_ids = set(active) | set(eligible)
    names = dict(
        s.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_(role_ids)
            )
        ).all()
    )
    ranked = sorted(
        role_ids,
        key=lambda r: (-(active.get(r, 0) + eligible.get(r, 0)), names.get(r, "").casefold()),
    )
    return [
        {
            "role_id": str(r),
            "role": names.get(r, str(r)),
            "active": int(active.get(r, 0)),
            "eligible": int(eligible.get(r, 0)),
        }
        for r in ranked[:TOP_ROLES]
    ]


def scan_digests(ctx: Ctx, *, limit: int = 100) -> int:
    """Queue this week's digest for directories that have none yet (at most `limit`)."""
    now = ctx.now
    end = week_start(now)
    start = end - timedelta(days=7)
    week = week_key(now)
    keys = {
        d: f"digest:{d}:{week}"
        for d in ctx.session.scalars(
            select(Directory.id)
            .where(Directory.pim_enabled_at.is_not(None), Directory.pim_enabled_at < end)
            .order_by(Directory.id)
        )
    }
    if not keys:
        return 0
    done = set(
        ctx.session.scalars(
            select(NotificationMarker.key).where(NotificationMarker.key.in_(list(keys.values())))
        )
    )
    queued = 0
    for directory_id, key in keys.items():
        if key in done or queued >= limit:
            continue
        outbox_id = uuid.uuid4()
        if not insert_once(
            ctx.session, _markers, {"key": key, "created_at": now, "outbox_id": outbox_id}
        ):
            continue
        enqueue(
            ctx,
            DIGEST_EVENT,
            {
                "week": week,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "digest": compute(ctx, directory_id, start, end),
            },
            directory_id=directory_id,
            message_id=outbox_id,
        )
        queued += 1
    return queued


def scan(runtime: Runtime, *, limit: int = 100) -> int:
    """For the worker: queue every digest due this week, `limit` directories per transaction."""
    from openpim.notifications.delivery import DELIVERY_ACTOR

    total = 0
    while True:
        with runtime.unit(DELIVERY_ACTOR) as ctx:
            queued = scan_digests(ctx, limit=limit)
        total += queued
        if queued < limit:
            return total
