"""Memberships over time: schedules live at given instants, per role and kind.

"eligible" counts eligibilities; "permanent" counts assigned active memberships (not
activations).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.reports.statistics.days import DAY, as_date, day_of, midnight

_INSTANTS_PER_STATEMENT = 16

Members = dict[tuple[uuid.UUID, str], int]  # (role, "eligible" | "permanent") -> live schedules


def _schedules(model: type[Eligibility] | type[Assignment]) -> list[ColumnElement[bool]]:
    if model is Assignment:
        return [of_type(AssignmentType.ASSIGNED)]
    return []


_KINDS: tuple[tuple[type[Eligibility] | type[Assignment], str], ...] = (
    (Eligibility, "eligible"),
    (Assignment, "permanent"),
)


def _live_at(model: type[Eligibility] | type[Assignment], instant: datetime) -> ColumnElement[bool]:
    return and_(model.start_at <= instant, or_(model.end_at.is_(None), model.end_at > instant))


def members_at(
    session: Session,
    directory_id: uuid.UUID,
    instants: Sequence[datetime],
    role_id: uuid.UUID | None,
    base: tuple[datetime, Members] | None = None,
) -> list[Members]:
    """Schedules live at each instant, per role and kind (a conditional count per instant).

    Without `base`, every schedule that may be live is read. With `base` (the members at an
    earlier instant b, from a closed day), only those that started or ended after b are: at
    x > b, live(x) = live(b) + started in (b, x] and still live at x - live at b and ended in
    (b, x], read through ix_eligibilities_start / ix_eligibilities_end.
    """
    out: list[Members] = [{} for _ in instants]
    if base is not None:
        base_instant, members = base
        assert base_instant < min(instants)
        for i in range(len(instants)):
            out[i] = {k: n for k, n in members.items() if role_id in (None, k[0])}
    for model, kind in _KINDS:
        for first in range(0, len(instants), _INSTANTS_PER_STATEMENT):
            chunk = instants[first : first + _INSTANTS_PER_STATEMENT]
            top = max(chunk)
            where = [model.directory_id == directory_id, *_schedules(model)]
            if role_id is not None:
                where.append(model.role_id == role_id)
            if base is None:
                parts = [
                    (
                        1,
                        [_live_at(model, x) for x in chunk],
                        [
                            model.start_at <= top,
                            or_(model.end_at.is_(None), model.end_at > min(chunk)),
                        ],
                    )
                ]
            else:
                parts = [
                    (
                        1,
                        [_live_at(model, x) for x in chunk],
                        [model.start_at > base_instant, model.start_at <= top],
                    ),
                    (
                        -1,
                        [model.end_at <= x for x in chunk],
                        [
                            model.end_at > base_instant,
                            model.end_at <= top,
                            model.start_at <= base_instant,
                        ],
                    ),
                ]
            for sign, conditions, narrowing in parts:
                counts = [func.count(case((c, 1))) for c in conditions]
                stmt = select(model.role_id, *counts).where(*where, *narrowing)
                for rid, *numbers in session.execute(stmt.group_by(model.role_id)):
                    for i, n in enumerate(numbers):
                        key = (rid, kind)
                        held = out[first + i]
                        held[key] = held.get(key, 0) + sign * int(n)
    return [{k: n for k, n in held.items() if n} for held in out]


def members_by_day(
    session: Session, dialect: str, directory_id: uuid.UUID, first: date, last: date
) -> dict[date, Members]:
    """Schedules live at the last instant of each day of [first, last], per role and kind.

    A schedule is live at the end of day d when it started on or before d and ends after d,
    so it counts on a run of days. Those that started before `first` and end after `last` (most
    of them) are only counted per role; those that start or end within the days are few and
    read by start or by end (ix_eligibilities_start, ix_eligibilities_end) with their days.
    """
    low, high = midnight(first), midnight(last + DAY)
    span = (last - first).days + 1
    out: dict[date, Members] = {first + timedelta(days=n): {} for n in range(span)}

    def index(day: date | str | None, default: int) -> int:
        return default if day is None else (as_date(day) - first).days

    def add(steps: dict[uuid.UUID, list[int]], rid: uuid.UUID, a: int, b: int, n: int) -> None:
        """n schedules of role rid live at the end of days a..b (indexes into the span)."""
        if a <= b:
            row = steps.setdefault(rid, [0] * (span + 1))
            row[a] += n
            row[b + 1] -= n

    for model, kind in _KINDS:
        steps: dict[uuid.UUID, list[int]] = {}
        mine = [model.directory_id == directory_id, *_schedules(model)]
        throughout = or_(model.end_at.is_(None), model.end_at >= high)
        for rid, n in session.execute(
            select(model.role_id, func.count())
            .where(*mine, model.start_at < low, throughout)
            .group_by(model.role_id)
        ):
            add(steps, rid, 0, span - 1, int(n))
        end_day = day_of(dialect, model.end_at)
        for rid, ended, n in session.execute(
            select(model.role_id, end_day, func.count())
            .where(*mine, model.start_at < low, model.end_at >= low + DAY, model.end_at < high)
            .group_by(model.role_id, end_day)
        ):
            add(steps, rid, 0, index(ended, span) - 1, int(n))
        start_day = day_of(dialect, model.start_at)
        ends = case((model.end_at < high, end_day), else_=None)
        for rid, started, ended, n in session.execute(
            select(model.role_id, start_day, ends, func.count())
            .where(*mine, model.start_at >= low, model.start_at < high)
            .group_by(model.role_id, start_day, ends)
        ):
            add(steps, rid, index(started, 0), index(ended, span) - 1, int(n))
        for rid, row in steps.items():
            live = 0
            for n in range(span):
                live += row[n]
                if live:
                    out[first + timedelta(days=n)][(rid, kind)] = live
    return out
