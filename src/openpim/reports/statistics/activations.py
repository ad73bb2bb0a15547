"""Activations per day and role: how many, by whom, and how long those that have ended lasted.

Activations are read from the covering partial index ix_assignments_activated_time
(directory, start, role, principal, end WHERE Activated); lengths are summed exactly in
microseconds, so the average is the same on both databases.
"""

from __future__ import annotations

import uuid
from array import array
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    LargeBinary,
    Select,
    String,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType
from openpim.reports.statistics.days import TICK, as_date, day_of
from openpim.reports.statistics.user_numbering import UserNumbering


@dataclass(frozen=True)
class RoleDay:
    activations: int
    users: array[int]  # its distinct users, numbered by a UserNumbering
    ended: int  # activations that had ended by the tally's `ended_by`
    ended_micros: int  # their total length


@dataclass(frozen=True)
class DayTally:
    roles: dict[uuid.UUID, RoleDay]
    activations: int
    distinct_users: int


NO_ACTIVATIONS = DayTally({}, 0, 0)


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


def _tally_statement(
    dialect: str,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    ended_by: datetime,
    role_id: uuid.UUID | None,
) -> Select[Any]:
    """Per (day, role): activations, their users (concatenated, split in Python: far fewer rows
    than one per user), and the number and total length in microseconds of those ended by
    `ended_by`. Reads the covering index alone."""
    a = Assignment
    ended = a.end_at <= ended_by
    if dialect == "postgresql":
        users: ColumnElement[Any] = func.string_agg(
            func.uuid_send(a.principal_id), literal_column("''::bytea"), type_=LargeBinary
        )
        # Summed as intervals (exact microseconds), turned into microseconds in Python.
        length: ColumnElement[Any] = func.sum(case((ended, a.end_at - a.start_at)))
    else:
        users = func.group_concat(a.principal_id, ",", type_=String)

        def whole(column: Any) -> ColumnElement[float]:
            # The instant without its fraction: SQLite's date functions keep milliseconds and
            # round, so '...:59.9996' would count as the next second.
            return func.julianday(func.substr(column, 1, 19))

        def fraction(column: Any) -> ColumnElement[int]:
            return cast(func.substr(column, 21, 6), Integer)

        # Whole seconds between the two (a difference of Julian days, a whole number of
        # seconds give or take 1e-4 s of float error, rounded), then the microseconds.
        seconds = cast(func.round((whole(a.end_at) - whole(a.start_at)) * 86400), Integer)
        length = func.sum(
            case((ended, seconds * 1_000_000 + fraction(a.end_at) - fraction(a.start_at))),
            type_=Integer,
        )
    day = day_of(dialect, a.start_at).label("day")
    return (
        select(day, a.role_id, func.count(), users, func.count(case((ended, 1))), length)
        .where(*_activation_filter(directory_id, since, until, role_id))
        .group_by(day, a.role_id)
    )


def _micros(value: timedelta | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return value // TICK
    return int(value)


def _split_users(value: bytes | str | None) -> set[bytes] | set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return set(value.split(","))
    raw = bytes(value)
    return {raw[i : i + 16] for i in range(0, len(raw), 16)}


def tally_by_day(
    session: Session,
    dialect: str,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    ended_by: datetime,
    role_id: uuid.UUID | None,
    numbering: UserNumbering,
) -> dict[date, DayTally]:
    """Activations that started in [since, until), per day and role."""
    per_day: dict[date, dict[uuid.UUID, RoleDay]] = {}
    statement = _tally_statement(dialect, directory_id, since, until, ended_by, role_id)
    for day, rid, n, users, ended, length in session.execute(statement):
        per_day.setdefault(as_date(day), {})[rid] = RoleDay(
            int(n), numbering.intern(_split_users(users)), int(ended), _micros(length)
        )
    out = {}
    for day, roles in per_day.items():
        everyone: set[int] = set()
        for role in roles.values():
            everyone.update(role.users)
        out[day] = DayTally(roles, sum(r.activations for r in roles.values()), len(everyone))
    return out


def only_role(tally: DayTally, role_id: uuid.UUID) -> DayTally:
    """One role's part of a day's tally."""
    role = tally.roles.get(role_id)
    if role is None:
        return NO_ACTIVATIONS
    return DayTally({role_id: role}, role.activations, len(role.users))
