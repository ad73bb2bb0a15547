"""The per-role statistics report: closed days from closed_days.py, the rest counted now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpim.kit.errors import ValidationFailed
from openpim.reports.statistics.activations import (
    NO_ACTIVATIONS,
    DayTally,
    RoleDay,
    only_role,
    tally_by_day,
)
from openpim.reports.statistics.closed_days import (
    SETTLED,
    ClosedDay,
    current_numbering,
    recall,
    recall_or_count,
    still_open,
)
from openpim.reports.statistics.days import DAY, TICK, days_in, midnight
from openpim.reports.statistics.memberships import members_at
from openpim.reports.statistics.results import DayPoint, RoleStatistics, RoleSummary
from openpim.roles.models import RoleDefinition

MAX_RANGE = timedelta(days=366)


def check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise ValidationFailed(
            "until must be later than since.", code="empty_time_range", field="until"
        )
    if until - since > MAX_RANGE:
        raise ValidationFailed(
            "Statistics cover at most 366 days at a time.", code="range_too_long", field="since"
        )


@dataclass
class _RoleTotal:
    activations: int = 0
    distinct_users: int = 0
    ended: int = 0
    ended_micros: int = 0

    @classmethod
    def of(cls, days: list[RoleDay]) -> _RoleTotal:
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
    numbering = current_numbering()
    days = days_in(since, until)
    ends = [min(midnight(d + DAY), until) for d in days]  # instants just after each day
    close_by = now - SETTLED

    # Days that have closed (a run from the first) come from the cache: their members at their
    # last instant always, their activations when the day lies wholly inside the range. The
    # rest is counted now.
    closable = [d for d in days if midnight(d + DAY) <= close_by]
    engine_url = session.get_bind().engine.url
    closed: dict[date, ClosedDay] = {}
    if role_id is None:
        closed = recall_or_count(session, dialect, directory_id, closable, now, numbering)
    elif closable:
        # One role's numbers are cheap to count: the cache is used when it has every day,
        # and is not filled for one role.
        closed = recall(engine_url, directory_id, closable, now, numbering)
        if len(closed) < len(closable):
            closed = {}
    whole = [d for d in closed if since <= midnight(d) and midnight(d + DAY) <= until]
    if whole:
        live_ranges = [(since, midnight(whole[0])), (midnight(whole[-1] + DAY), until)]
    else:
        live_ranges = [(since, until)]
    tallies: dict[date, DayTally] = {
        d: closed[d].tally if role_id is None else only_role(closed[d].tally, role_id)
        for d in whole
    }
    for low, high in live_ranges:
        if low < high:
            tallies.update(
                tally_by_day(session, dialect, directory_id, low, high, now, role_id, numbering)
            )

    per_role: dict[uuid.UUID, list[RoleDay]] = {}
    for tally in tallies.values():
        for rid, role_day in tally.roles.items():
            per_role.setdefault(rid, []).append(role_day)
    totals = {rid: _RoleTotal.of(role_days) for rid, role_days in per_role.items()}
    # Activations of the cached days that had not ended when counted: ended by now?
    cached = {d: closed[d] for d in whole}
    for start, rid, end in still_open(session, directory_id, cached, set(totals)):
        settled = cached[start.astimezone(UTC).date()].settled
        if end is not None and settled < end <= now:
            totals[rid].ended += 1
            totals[rid].ended_micros += (end - start) // TICK

    # Memberships at each day's last instant, and per role at the end (or now): the closed
    # days' from the cache, the others counted from the latest closed day before them.
    at_end_instant = min(until, now) - TICK
    by_instant = {midnight(d + DAY) - TICK: entry.members for d, entry in closed.items()}
    wanted = [end - TICK for end in ends] + [at_end_instant]
    live = sorted({x for x in wanted if x not in by_instant})
    if live:
        if days[0] not in closed:  # the day before may be remembered from another range
            before = days[0] - DAY
            for entry in recall(engine_url, directory_id, [before], now, numbering).values():
                by_instant[midnight(days[0]) - TICK] = entry.members
        earlier = [x for x in by_instant if x < live[0]]
        base = (max(earlier), by_instant[max(earlier)]) if earlier else None
        by_instant.update(
            zip(live, members_at(session, directory_id, live, role_id, base), strict=True)
        )

    points = []
    for d, end in zip(days, ends, strict=True):
        tally = tallies.get(d, NO_ACTIVATIONS)
        held = {"eligible": 0, "permanent": 0}
        for (rid, kind), n in by_instant[end - TICK].items():
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
