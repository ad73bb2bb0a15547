"""Closed days, remembered per process (like summaries' activations per day).

A month of a large directory is some 200,000 activations, too many to aggregate on every page
view, so days that have closed are remembered:

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
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType
from openpim.reports.statistics.activations import NO_ACTIVATIONS, DayTally, tally_by_day
from openpim.reports.statistics.days import DAY, days_in, midnight
from openpim.reports.statistics.memberships import Members, members_by_day
from openpim.reports.statistics.user_numbering import UserNumbering, lock

SETTLED = timedelta(minutes=5)  # longer than any transaction that writes a schedule
CACHE_TTL = timedelta(hours=1)
CACHE_DAYS = 1024  # entries (directory-days) kept, least recently used first out


@dataclass(frozen=True)
class ClosedDay:
    counted_at: datetime
    settled: datetime  # the tally's ended activations are those ended by this instant
    tally: DayTally
    members: Members  # at the day's last instant
    numbering: UserNumbering


_cache: OrderedDict[tuple[Any, uuid.UUID, date], ClosedDay] = OrderedDict()
_numbering = UserNumbering()
_MAX_NUMBERS = 4_000_000


def current_numbering() -> UserNumbering:
    """The numbering to count with; renewed (and the cache emptied) past _MAX_NUMBERS users,
    so a long-running process does not keep every user it ever counted."""
    global _numbering
    with lock:
        if len(_numbering.numbers) > _MAX_NUMBERS:
            _numbering = UserNumbering()
            _cache.clear()
        return _numbering


def recall(
    engine_url: Any,
    directory_id: uuid.UUID,
    days: Iterable[date],
    now: datetime,
    numbering: UserNumbering,
) -> dict[date, ClosedDay]:
    """The `days` remembered, still fresh and counted under `numbering`; the others are left out."""
    found = {}
    with lock:
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


def recall_or_count(
    session: Session,
    dialect: str,
    directory_id: uuid.UUID,
    days: list[date],
    now: datetime,
    numbering: UserNumbering,
    *,
    refresh: bool = False,
) -> dict[date, ClosedDay]:
    """The closed `days` (consecutive), from the cache or counted now and remembered.

    refresh=True counts them all again (the background refresh, before entries expire)."""
    engine_url = session.get_bind().engine.url
    found = {} if refresh else recall(engine_url, directory_id, days, now, numbering)
    missing = [d for d in days if d not in found]
    if not missing:
        return found
    first, last = missing[0], missing[-1]
    settled = now - SETTLED
    tallies = tally_by_day(
        session,
        dialect,
        directory_id,
        midnight(first),
        midnight(last + DAY),
        settled,
        None,
        numbering,
    )
    members = members_by_day(session, dialect, directory_id, first, last)
    fresh = {
        d: ClosedDay(now, settled, tallies.get(d, NO_ACTIVATIONS), members[d], numbering)
        for d in members
    }
    with lock:
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
    days = [d for d in days_in(since, now) if midnight(d + DAY) <= close_by]
    if not days:
        return 0
    dialect = session.get_bind().dialect.name
    recall_or_count(session, dialect, directory_id, days, now, current_numbering(), refresh=True)
    return len(days)


def clear_cache() -> None:
    """Forget every remembered day: the next call counts from the database (tests, benchmarks)."""
    global _numbering
    with lock:
        _cache.clear()
        refreshed_at.clear()
        _numbering = UserNumbering()


def still_open(
    session: Session,
    directory_id: uuid.UUID,
    closed: dict[date, ClosedDay],
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
            start >= midnight(first),
            start < midnight(last + DAY),
            of_type(AssignmentType.ACTIVATED),
        )
        rows.extend((began, rid, end) for began, rid, end in session.execute(stmt))
    return rows
