"""Per-role statistics over a date range: activations per day, distinct users, average
duration, and eligible vs. assigned (permanent) memberships over time.

Days are UTC calendar days; an activation belongs to the day it started. A day's membership
numbers are the schedules live at its last instant (or at the range's end, if earlier); the
per-role summary counts the members live at the range's end (or now, if earlier).

A month of a large directory is some 200,000 activations, too many to aggregate on every page
view, so days that have closed are remembered (per process, like summaries' activations per
day):

- A day closes once it ended `SETTLED` ago: every write of a schedule's window is stamped with
  its transaction's clock (a new activation starts now or later; an end is only ever moved to
  now or later; starts only move while still in the future), so after the transactions that
  began before the day ended have committed, the day's activations and the memberships live
  at its last instant never change.
- A closed day keeps, per role: its activations, the ids of their distinct users (so the
  range's distinct users are a union, not a sum), and the count and exact total length of
  those that had ended `SETTLED` before the day was counted. Those never change either. An
  activation that was still running then (or had no end) is read again on each call (a few
  index ranges of ix_assignments_role: schedules ending after that moment), so one that ends
  later, is deactivated or is cut short by its eligibility counts in the average as soon as
  its end has passed.
- The partial first day, today and any later day are counted on each call, as are the
  memberships at instants that are not the end of a closed day (now, the range's end).
- Entries are kept for an hour (`CACHE_TTL`), which bounds how long a row written outside PIM
  (straight into the database, with a past start) can go unseen.

Activations are read from the covering partial index ix_assignments_activated_time
(directory, start, role, principal, end WHERE Activated); lengths are summed exactly in
microseconds, so the average is the same on both databases.
"""

from __future__ import annotations

import threading
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    LargeBinary,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.kit.errors import ValidationFailed
from openpim.roles.models import RoleDefinition

MAX_RANGE = timedelta(days=366)
SETTLED = timedelta(minutes=5)  # longer than any transaction that writes a schedule
CACHE_TTL = timedelta(hours=1)
CACHE_DAYS = 1024  # entries (directory-days) kept, least recently used first out
_TICK = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_INSTANTS_PER_STATEMENT = 16

Members = dict[tuple[uuid.UUID, str], int]  # (role, "eligible" | "permanent") -> live schedules


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


def check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise ValidationFailed(
            "until must be later than since.", code="empty_time_range", field="until"
        )
    if until - since > MAX_RANGE:
        raise ValidationFailed(
            "Statistics cover at most 366 days at a time.", code="range_too_long", field="since"
        )


# --- activations per day and role ---------------------------------------------------------------


@dataclass(frozen=True)
class _RoleDay:
    activations: int
    users: array[int]  # its distinct users, numbered by a _Numbering
    ended: int  # activations that had ended by the tally's `ended_by`
    ended_micros: int  # their total length


@dataclass(frozen=True)
class _DayTally:
    roles: dict[uuid.UUID, _RoleDay]
    activations: int
    distinct_users: int


_NO_ACTIVATIONS = _DayTally({}, 0, 0)


# Users are remembered as small numbers: a closed day costs 4 bytes per distinct user and role,
# and the union over a month is a union of small ints. A numbering only grows (by users who
# activated something); a new one starts when the cache is emptied or the numbering grows too
# large, and a remembered day is only used with the numbering it was counted in.
class _Numbering:
    def __init__(self) -> None:
        self.numbers: dict[bytes | str, int] = {}

    def intern(self, keys: set[bytes] | set[str]) -> array[int]:
        with _lock:
            table = self.numbers
            for key in [k for k in keys if k not in table]:
                table[key] = len(table)
            return array("I", map(table.__getitem__, keys))


_lock = threading.Lock()
_numbering = _Numbering()
_MAX_NUMBERS = 4_000_000


def _day_of(dialect: str, column: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)  # SQLite keeps naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


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
    day = _day_of(dialect, a.start_at).label("day")
    return (
        select(day, a.role_id, func.count(), users, func.count(case((ended, 1))), length)
        .where(*_activation_filter(directory_id, since, until, role_id))
        .group_by(day, a.role_id)
    )


def _micros(value: timedelta | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return value // _TICK
    return int(value)


def _split_users(value: bytes | str | None) -> set[bytes] | set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return set(value.split(","))
    raw = bytes(value)
    return {raw[i : i + 16] for i in range(0, len(raw), 16)}


def _tally(
    session: Session,
    dialect: str,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    ended_by: datetime,
    role_id: uuid.UUID | None,
    numbering: _Numbering,
) -> dict[date, _DayTally]:
    """Activations that started in [since, until), per day and role."""
    per_day: dict[date, dict[uuid.UUID, _RoleDay]] = {}
    statement = _tally_statement(dialect, directory_id, since, until, ended_by, role_id)
    for day, rid, n, users, ended, length in session.execute(statement):
        per_day.setdefault(_as_date(day), {})[rid] = _RoleDay(
            int(n), numbering.intern(_split_users(users)), int(ended), _micros(length)
        )
    out = {}
    for day, roles in per_day.items():
        everyone: set[int] = set()
        for role in roles.values():
            everyone.update(role.users)
        out[day] = _DayTally(roles, sum(r.activations for r in roles.values()), len(everyone))
    return out


# --- memberships ----------------------------------------------------------------------------------


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


def _members_at(
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


def _members_by_day(
    session: Session, dialect: str, directory_id: uuid.UUID, first: date, last: date
) -> dict[date, Members]:
    """Schedules live at the last instant of each day of [first, last], per role and kind.

    A schedule is live at the end of day d when it started on or before d and ends after d,
    so it counts on a run of days. Those that started before `first` and end after `last` (most
    of them) are only counted per role; those that start or end within the days are few and
    read by start or by end (ix_eligibilities_start, ix_eligibilities_end) with their days.
    """
    low, high = _midnight(first), _midnight(last + _DAY)
    span = (last - first).days + 1
    out: dict[date, Members] = {first + timedelta(days=n): {} for n in range(span)}

    def index(day: date | str | None, default: int) -> int:
        return default if day is None else (_as_date(day) - first).days

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
        end_day = _day_of(dialect, model.end_at)
        for rid, ended, n in session.execute(
            select(model.role_id, end_day, func.count())
            .where(*mine, model.start_at < low, model.end_at >= low + _DAY, model.end_at < high)
            .group_by(model.role_id, end_day)
        ):
            add(steps, rid, 0, index(ended, span) - 1, int(n))
        start_day = _day_of(dialect, model.start_at)
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


# --- closed days ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClosedDay:
    counted_at: datetime
    settled: datetime  # the tally's ended activations are those ended by this instant
    tally: _DayTally
    members: Members  # at the day's last instant
    numbering: _Numbering


_cache: OrderedDict[tuple[Any, uuid.UUID, date], _ClosedDay] = OrderedDict()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _current_numbering() -> _Numbering:
    global _numbering
    with _lock:
        if len(_numbering.numbers) > _MAX_NUMBERS:
            _numbering = _Numbering()
            _cache.clear()
        return _numbering


def _cached(
    engine_url: Any,
    directory_id: uuid.UUID,
    days: Iterable[date],
    now: datetime,
    numbering: _Numbering,
) -> dict[date, _ClosedDay]:
    found = {}
    with _lock:
        for day in days:
            key = (engine_url, directory_id, day)
            entry = _cache.get(key)
            if (
                entry is not None
                and entry.numbering is numbering
                and entry.counted_at <= now < entry.counted_at + CACHE_TTL
            ):
                _cache.move_to_end(key)
                found[day] = entry
    return found


def _closed_days(
    session: Session,
    dialect: str,
    directory_id: uuid.UUID,
    days: list[date],
    now: datetime,
    numbering: _Numbering,
    *,
    refresh: bool = False,
) -> dict[date, _ClosedDay]:
    """The closed `days` (consecutive), from the cache or counted now and remembered.

    refresh=True counts them all again (the background refresh, before entries expire)."""
    engine_url = session.get_bind().engine.url
    found = {} if refresh else _cached(engine_url, directory_id, days, now, numbering)
    missing = [d for d in days if d not in found]
    if not missing:
        return found
    first, last = missing[0], missing[-1]
    settled = now - SETTLED
    tallies = _tally(
        session,
        dialect,
        directory_id,
        _midnight(first),
        _midnight(last + _DAY),
        settled,
        None,
        numbering,
    )
    members = _members_by_day(session, dialect, directory_id, first, last)
    fresh = {
        d: _ClosedDay(now, settled, tallies.get(d, _NO_ACTIVATIONS), members[d], numbering)
        for d in members
    }
    with _lock:
        for d, entry in fresh.items():
            _cache[(engine_url, directory_id, d)] = entry
            _cache.move_to_end((engine_url, directory_id, d))
        while len(_cache) > CACHE_DAYS:
            _cache.popitem(last=False)
    found.update({d: fresh[d] for d in missing})
    return found


# When the background refresh last counted each database's default range (service.py).
refreshed_at: dict[Any, datetime] = {}


def refresh_closed_days(
    session: Session, directory_id: uuid.UUID, since: datetime, now: datetime
) -> int:
    """Count the closed days from `since` afresh and remember them; returns how many.

    The background loop calls this more often than CACHE_TTL, so the statistics page finds its
    closed days counted instead of paying for a year's tally on the first view after a start or
    an expiry. Counting is the same code as a view's, so the numbers cannot differ.
    """
    close_by = now - SETTLED
    days = [d for d in _days(since, now) if _midnight(d + _DAY) <= close_by]
    if not days:
        return 0
    dialect = session.get_bind().dialect.name
    _closed_days(session, dialect, directory_id, days, now, _current_numbering(), refresh=True)
    return len(days)


def clear_cache() -> None:
    """Forget every remembered day: the next call counts from the database (tests, benchmarks)."""
    global _numbering
    with _lock:
        _cache.clear()
        refreshed_at.clear()
        _numbering = _Numbering()


def _still_open(
    session: Session,
    directory_id: uuid.UUID,
    closed: dict[date, _ClosedDay],
    role_ids: set[uuid.UUID],
) -> list[tuple[datetime, uuid.UUID, datetime | None]]:
    """Activations of the closed days that had not ended when their day was counted: those
    that end after the earliest such moment, read through ix_assignments_role (directory,
    role, end, start, ...) by role, so the ended history in between is skipped."""
    if not closed or not role_ids:
        return []
    first, last = min(closed), max(closed)
    settled = min(entry.settled for entry in closed.values())
    a = Assignment
    start: Any = a.start_at
    if session.get_bind().dialect.name == "sqlite":
        # Unary + keeps SQLite's planner off the start index (it would read the closed days'
        # every activation, and the table for each); the value and comparison are unchanged.
        start = literal_column(f"+{Assignment.__tablename__}.start_at", a.start_at.type)
    rows: list[tuple[datetime, uuid.UUID, datetime | None]] = []
    for ends in (a.end_at > settled, a.end_at.is_(None)):
        stmt = select(a.start_at, a.role_id, a.end_at).where(
            a.directory_id == directory_id,
            a.role_id.in_(sorted(role_ids)),
            ends,
            start >= _midnight(first),
            start < _midnight(last + _DAY),
            of_type(AssignmentType.ACTIVATED),
        )
        rows.extend((began, rid, end) for began, rid, end in session.execute(stmt))
    return rows


# --- the report -----------------------------------------------------------------------------------


def _days(since: datetime, until: datetime) -> list[date]:
    first, last = since.astimezone(UTC).date(), (until - _TICK).astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class _RoleTotal:
    activations: int = 0
    distinct_users: int = 0
    ended: int = 0
    ended_micros: int = 0

    @classmethod
    def of(cls, days: list[_RoleDay]) -> _RoleTotal:
        users: set[int] = set()
        users.update(*(d.users for d in days))
        return cls(
            sum(d.activations for d in days),
            len(users),
            sum(d.ended for d in days),
            sum(d.ended_micros for d in days),
        )

    def average_seconds(self) -> float | None:
        if not self.ended:
            return None
        return round(float(Fraction(self.ended_micros, self.ended * 1_000_000)), 1)


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
    numbering = _current_numbering()
    days = _days(since, until)
    ends = [min(_midnight(d + _DAY), until) for d in days]  # instants just after each day
    close_by = now - SETTLED

    # Days that have closed (a run from the first) come from the cache: their members at their
    # last instant always, their activations when the day lies wholly inside the range. The
    # rest is counted now.
    closable = [d for d in days if _midnight(d + _DAY) <= close_by]
    engine_url = session.get_bind().engine.url
    closed: dict[date, _ClosedDay] = {}
    if role_id is None:
        closed = _closed_days(session, dialect, directory_id, closable, now, numbering)
    elif closable:
        # One role's numbers are cheap to count: the cache is used when it has every day,
        # and is not filled for one role.
        closed = _cached(engine_url, directory_id, closable, now, numbering)
        if len(closed) < len(closable):
            closed = {}
    whole = [d for d in closed if since <= _midnight(d) and _midnight(d + _DAY) <= until]
    if whole:
        live_ranges = [(since, _midnight(whole[0])), (_midnight(whole[-1] + _DAY), until)]
    else:
        live_ranges = [(since, until)]
    tallies: dict[date, _DayTally] = {
        d: closed[d].tally if role_id is None else _only(closed[d].tally, role_id) for d in whole
    }
    for low, high in live_ranges:
        if low < high:
            tallies.update(
                _tally(session, dialect, directory_id, low, high, now, role_id, numbering)
            )

    per_role: dict[uuid.UUID, list[_RoleDay]] = {}
    for tally in tallies.values():
        for rid, role_day in tally.roles.items():
            per_role.setdefault(rid, []).append(role_day)
    totals = {rid: _RoleTotal.of(role_days) for rid, role_days in per_role.items()}
    # Activations of the cached days that had not ended when counted: ended by now?
    cached = {d: closed[d] for d in whole}
    for start, rid, end in _still_open(session, directory_id, cached, set(totals)):
        settled = cached[start.astimezone(UTC).date()].settled
        if end is not None and settled < end <= now:
            totals[rid].ended += 1
            totals[rid].ended_micros += (end - start) // _TICK

    # Memberships at each day's last instant, and per role at the end (or now): the closed
    # days' from the cache, the others counted from the latest closed day before them.
    at_end_instant = min(until, now) - _TICK
    by_instant = {_midnight(d + _DAY) - _TICK: entry.members for d, entry in closed.items()}
    wanted = [end - _TICK for end in ends] + [at_end_instant]
    live = sorted({x for x in wanted if x not in by_instant})
    if live:
        if days[0] not in closed:  # the day before may be remembered from another range
            before = days[0] - _DAY
            for entry in _cached(engine_url, directory_id, [before], now, numbering).values():
                by_instant[_midnight(days[0]) - _TICK] = entry.members
        earlier = [x for x in by_instant if x < live[0]]
        base = (max(earlier), by_instant[max(earlier)]) if earlier else None
        by_instant.update(
            zip(live, _members_at(session, directory_id, live, role_id, base), strict=True)
        )

    points = []
    for d, end in zip(days, ends, strict=True):
        tally = tallies.get(d, _NO_ACTIVATIONS)
        held = {"eligible": 0, "permanent": 0}
        for (rid, kind), n in by_instant[end - _TICK].items():
            if role_id is None or rid == role_id:
                held[kind] += n
        points.append(DayPoint(d, tally.activations, tally.distinct_users, **held))
    at_end = {key: n for key, n in by_instant[at_end_instant].items() if role_id in (None, key[0])}
    role_ids = set(totals) | {rid for rid, _ in at_end}
    if role_id is not None:
        role_ids.add(role_id)
    names = dict(
        session.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_(role_ids)
            )
        ).all()
    )
    summaries = []
    for rid in role_ids:
        total = totals.get(rid) or _RoleTotal()
        summaries.append(
            RoleSummary(
                role_id=rid,
                role=names.get(rid, str(rid)),
                activations=total.activations,
                distinct_users=total.distinct_users,
                average_seconds=total.average_seconds(),
                eligible=at_end.get((rid, "eligible"), 0),
                permanent=at_end.get((rid, "permanent"), 0),
            )
        )
    summaries.sort(key=lambda s: (-s.activations, s.role.casefold()))
    return RoleStatistics(since, until, role_id, summaries, points)


def _only(tally: _DayTally, role_id: uuid.UUID) -> _DayTally:
    role = tally.roles.get(role_id)
    if role is None:
        return _NO_ACTIVATIONS
    return _DayTally({role_id: role}, role.activations, len(role.users))
