"""Per-role statistics over a date range: activations per day, distinct users, average
duration, and eligible vs. assigned (permanent) memberships over time.

Days are UTC calendar days. Activation counts and durations are aggregated in SQL; the
membership curve is a sweep over the schedules that overlap the range (two sorted lists and a
binary search per day), so a year of days costs one pass, not one query per day.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.kit.errors import ValidationFailed
from openpim.roles.models import RoleDefinition

MAX_RANGE = timedelta(days=366)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class DayPoint:
    day: date
    activations: int
    distinct_users: int
    # Memberships held at the day's last instant (or at the range's end, if earlier).
    eligible: int
    permanent: int  # assigned active memberships (not activations)


@dataclass(frozen=True)
class RoleSummary:
    role_id: uuid.UUID
    role: str
    activations: int
    distinct_users: int
    average_seconds: float | None  # over activations that have ended
    eligible: int  # at the end of the range
    permanent: int


@dataclass(frozen=True)
class RoleStatistics:
    since: datetime
    until: datetime
    role_id: uuid.UUID | None
    roles: list[RoleSummary]
    days: list[DayPoint]


def _day_text(dialect: str, column: Any) -> Any:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps naive UTC text, 'YYYY-MM-DD HH:MM:SS'


def _seconds(dialect: str, start: Any, end: Any) -> Any:
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise ValidationFailed(
            "until must be later than since.", code="empty_time_range", field="until"
        )
    if until - since > MAX_RANGE:
        raise ValidationFailed(
            "Statistics cover at most 366 days at a time.", code="range_too_long", field="since"
        )


def _activation_filter(
    directory_id: uuid.UUID, since: datetime, until: datetime, role_id: uuid.UUID | None
) -> list[ColumnElement[bool]]:
    conditions = [
        Assignment.directory_id == directory_id,
        of_type(AssignmentType.ACTIVATED),
        Assignment.start_at >= since,
        Assignment.start_at < until,
    ]
    if role_id is not None:
        conditions.append(Assignment.role_id == role_id)
    return conditions


def _live_at(model: type[Eligibility] | type[Assignment], instant: datetime) -> ColumnElement[bool]:
    return and_(model.start_at <= instant, or_(model.end_at.is_(None), model.end_at > instant))


def _members_at(
    session: Session, directory_id: uuid.UUID, instant: datetime, role_id: uuid.UUID | None
) -> dict[tuple[uuid.UUID, str], int]:
    out: dict[tuple[uuid.UUID, str], int] = {}
    for model, kind in ((Eligibility, "eligible"), (Assignment, "permanent")):
        stmt = select(model.role_id, func.count()).where(
            model.directory_id == directory_id, _live_at(model, instant)
        )
        if model is Assignment:
            stmt = stmt.where(of_type(AssignmentType.ASSIGNED))
        if role_id is not None:
            stmt = stmt.where(model.role_id == role_id)
        for rid, n in session.execute(stmt.group_by(model.role_id)):
            out[(rid, kind)] = int(n)
    return out


def _curve(
    session: Session,
    model: type[Eligibility] | type[Assignment],
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    role_id: uuid.UUID | None,
    instants: list[datetime],
) -> list[int]:
    """How many schedules are live at each instant."""
    stmt = select(model.start_at, model.end_at).where(
        model.directory_id == directory_id,
        model.start_at < until,
        or_(model.end_at.is_(None), model.end_at > since),
    )
    if model is Assignment:
        stmt = stmt.where(of_type(AssignmentType.ASSIGNED))
    if role_id is not None:
        stmt = stmt.where(model.role_id == role_id)
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in session.execute(stmt.execution_options(yield_per=5000)):
        starts.append(start)
        if end is not None:
            ends.append(end)
    starts.sort()
    ends.sort()
    # live at x: start <= x < end  ==  (#start <= x) - (#end <= x)
    return [bisect_right(starts, x) - bisect_right(ends, x) for x in instants]


def _days(since: datetime, until: datetime) -> list[date]:
    first, last = since.astimezone(UTC).date(), (until - _TICK).astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def role_statistics(
    session: Session,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    now: datetime,
    role_id: uuid.UUID | None = None,
) -> RoleStatistics:
    """The numbers behind the portal's charts (authorisation is the caller's: service.py)."""
    check_range(since, until)
    dialect = session.get_bind().dialect.name
    where = _activation_filter(directory_id, since, until, role_id)
    day = _day_text(dialect, Assignment.start_at).label("day")
    per_day = {
        str(d): (int(n), int(users))
        for d, n, users in session.execute(
            select(day, func.count(), func.count(func.distinct(Assignment.principal_id)))
            .where(*where)
            .group_by(day)
        )
    }
    ended = Assignment.end_at <= now
    duration = case((ended, _seconds(dialect, Assignment.start_at, Assignment.end_at)), else_=None)
    per_role = {
        rid: (int(n), int(users), None if avg is None else round(float(avg), 1))
        for rid, n, users, avg in session.execute(
            select(
                Assignment.role_id,
                func.count(),
                func.count(func.distinct(Assignment.principal_id)),
                func.avg(duration),
            )
            .where(*where)
            .group_by(Assignment.role_id)
        )
    }
    days = _days(since, until)
    instants = [
        min(datetime.combine(d + timedelta(days=1), time(), UTC), until) - _TICK for d in days
    ]
    eligible = _curve(session, Eligibility, directory_id, since, until, role_id, instants)
    assigned = _curve(session, Assignment, directory_id, since, until, role_id, instants)
    points = [
        DayPoint(d, *per_day.get(d.isoformat(), (0, 0)), eligible=e, permanent=p)
        for d, e, p in zip(days, eligible, assigned, strict=True)
    ]
    at_end = _members_at(session, directory_id, min(until, now) - _TICK, role_id)
    role_ids = set(per_role) | {rid for rid, _ in at_end}
    if role_id is not None:
        role_ids.add(role_id)
    names = dict(
        session.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_(role_ids)
            )
        ).all()
    )
    summaries = [
        RoleSummary(
            role_id=rid,
            role=names.get(rid, str(rid)),
            activations=per_role.get(rid, (0, 0, None))[0],
            distinct_users=per_role.get(rid, (0, 0, None))[1],
            average_seconds=per_role.get(rid, (0, 0, None))[2],
            eligible=at_end.get((rid, "eligible"), 0),
            permanent=at_end.get((rid, "permanent"), 0),
        )
        for rid in role_ids
    ]
    summaries.sort(key=lambda s: (-s.activations, s.role.casefold()))
    return RoleStatistics(since, until, role_id, summaries, points)
