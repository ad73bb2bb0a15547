"""Per-role statistics checked against the schedules themselves, on both databases.

`_expected` reads every row of the directory and applies the definitions in plain Python; the
service (with its remembered closed days) must give exactly the same numbers for every range,
cold and warm, and after changes that happen once a day has been remembered: an activation
that was running then ends, is deactivated or is cut short by its eligibility; a late commit
just after midnight; a row written outside PIM (seen within the hour).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import select

from openpim.assignments import service as assignments
from openpim.assignments.models import Assignment, AssignmentType, Eligibility, MemberType
from openpim.directory.models import Directory, User
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.reports import service as reports
from openpim.reports.statistics import closed_days
from openpim.reports.statistics.results import DayPoint, RoleStatistics, RoleSummary
from openpim.reports.statistics.user_numbering import UserNumbering
from openpim.roles.models import RoleDefinition
from tests.alerts.helpers import grant, pim_setup
from tests.factories import HELPDESK_ADMIN, PASSWORD_ADMIN, USER_ADMIN, Env

TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
ROLES = (PASSWORD_ADMIN, USER_ADMIN, HELPDESK_ADMIN)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    closed_days.clear_cache()
    yield
    closed_days.clear_cache()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# --- the oracle ---------------------------------------------------------------------------------


def _expected(
    env: Env,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    role_id: uuid.UUID | None = None,
) -> RoleStatistics:
    now = env.now
    with env.runtime.db.reader() as s:
        activations = s.execute(
            select(Assignment.role_id, Assignment.principal_id, Assignment.start_at,
                   Assignment.end_at)
            .where(Assignment.directory_id == directory_id,
                   Assignment.assignment_type == AssignmentType.ACTIVATED)
        ).all()  # fmt: skip
        eligible = s.execute(
            select(Eligibility.role_id, Eligibility.start_at, Eligibility.end_at).where(
                Eligibility.directory_id == directory_id
            )
        ).all()
        assigned = s.execute(
            select(Assignment.role_id, Assignment.start_at, Assignment.end_at).where(
                Assignment.directory_id == directory_id,
                Assignment.assignment_type == AssignmentType.ASSIGNED,
            )
        ).all()
        names = dict(s.execute(select(RoleDefinition.id, RoleDefinition.display_name)).all())

    def wanted(rid: uuid.UUID) -> bool:
        return role_id is None or rid == role_id

    def live(rows: Sequence[Any], at: datetime) -> Counter[uuid.UUID]:
        return Counter(
            r.role_id
            for r in rows
            if wanted(r.role_id) and r.start_at <= at and (r.end_at is None or r.end_at > at)
        )

    chosen = [a for a in activations if wanted(a.role_id) and since <= a.start_at < until]
    days = []
    day, last = since.date(), (until - TICK).date()
    while day <= last:
        at = min(_midnight(day + DAY), until) - TICK
        on_day = [a for a in chosen if a.start_at.date() == day]
        days.append(
            DayPoint(
                day,
                len(on_day),
                len({a.principal_id for a in on_day}),
                eligible=sum(live(eligible, at).values()),
                permanent=sum(live(assigned, at).values()),
            )
        )
        day += DAY
    at_end = min(until, now) - TICK
    held, permanent = live(eligible, at_end), live(assigned, at_end)
    role_ids = {a.role_id for a in chosen} | set(held) | set(permanent)
    if role_id is not None:
        role_ids.add(role_id)
    roles = []
    for rid in role_ids:
        mine = [a for a in chosen if a.role_id == rid]
        ended = [a for a in mine if a.end_at is not None and a.end_at <= now]
        micros = sum((a.end_at - a.start_at) // TICK for a in ended)
        average = round(float(Fraction(micros, len(ended) * 10**6)), 1) if ended else None
        roles.append(
            RoleSummary(
                rid,
                names.get(rid, str(rid)),
                len(mine),
                len({a.principal_id for a in mine}),
                average,
                held[rid],
                permanent[rid],
            )
        )
    roles.sort(key=lambda r: (-r.activations, r.role.casefold()))
    return RoleStatistics(since, until, role_id, roles, days)


def _computed(
    env: Env,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    role_id: uuid.UUID | None = None,
) -> RoleStatistics:
    with env.ctx() as ctx:
        return reports.statistics(ctx, directory_id, since=since, until=until, role_id=role_id)


def _same(got: RoleStatistics, want: RoleStatistics) -> None:
    assert got.days == want.days
    # Roles with as many activations and the same name may come in either order.
    assert sorted(map(astuple, got.roles)) == sorted(map(astuple, want.roles))
    keys = [(-r.activations, r.role.casefold()) for r in got.roles]
    assert keys == sorted(keys)
    assert (got.since, got.until, got.role_id) == (want.since, want.until, want.role_id)


def _check(
    env: Env,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    role_id: uuid.UUID | None = None,
) -> RoleStatistics:
    got = _computed(env, directory_id, since, until, role_id)
    _same(got, _expected(env, directory_id, since, until, role_id))
    return got


def _remembered(directory_id: uuid.UUID) -> dict[date, datetime]:
    """The closed days the statistics keep for a directory, and when each was counted."""
    return {
        day: entry.counted_at
        for (_, directory, day), entry in closed_days._cache.items()
        if directory == directory_id
    }


# --- a directory with history --------------------------------------------------------------------


def _rows(env: Env, rows: list[Any]) -> None:
    with env.runtime.db.unit_of_work() as s:
        s.add_all(rows)


def _activation(user: User, role_id: uuid.UUID, start: datetime, end: datetime | None) -> Any:
    return Assignment(
        directory_id=user.directory_id, principal_id=user.id, role_id=role_id, start_at=start,
        end_at=end, assignment_type=AssignmentType.ACTIVATED, created_via="pim", created_at=start,
    )  # fmt: skip


def _history(env: Env, seed: int) -> Directory:
    """Six weeks of activations, eligibilities and assignments starting and ending at awkward
    instants: midnight, the microsecond before, sub-second lengths, across midnight, zero
    length, running now, scheduled for later, no end."""
    rng = random.Random(seed)
    env.clock.set(NOW - timedelta(days=50))
    directory, _admin = pim_setup(env)
    users = [env.user(directory, f"u{seed}x{n}") for n in range(6)]
    base = _midnight(NOW.date())
    rows: list[Any] = []
    for n, user in enumerate(users):
        for role in ROLES[: 1 + n % 3]:
            start = base - timedelta(days=rng.choice((60, 35, 20, 9)))
            end = rng.choice((None, base - timedelta(days=rng.randint(1, 12)), base + DAY))
            if n == 0:
                end = base - DAY - TICK  # ends the microsecond before a midnight
            rows.append(Eligibility(
                directory_id=directory.id, principal_id=user.id, role_id=role,
                start_at=start, end_at=end, created_via="pim", created_at=start,
            ))  # fmt: skip
    for user, start, end in (
        (users[1], base - timedelta(days=4), None),
        (users[5], base - TICK, None),  # from yesterday's last microsecond
        (users[4], base - timedelta(days=9), base - TICK),  # to yesterday's last microsecond
    ):
        rows.append(Eligibility(
            directory_id=directory.id, principal_id=user.id, role_id=HELPDESK_ADMIN,
            start_at=start, end_at=end, created_via="pim", created_at=start,
        ))  # fmt: skip
    for start, end in ((base - timedelta(days=12), base - timedelta(days=2)), (base, None)):
        rows.append(Assignment(
            directory_id=directory.id, principal_id=users[2].id, role_id=USER_ADMIN,
            start_at=start, end_at=end, assignment_type=AssignmentType.ASSIGNED,
            created_via="pim", created_at=start,
        ))  # fmt: skip
    for _ in range(160):
        user, role = rng.choice(users), rng.choice(ROLES)
        start = base - timedelta(days=rng.randint(0, 44), seconds=rng.randint(0, 86399),
                                 microseconds=rng.randint(0, 999999))  # fmt: skip
        length = timedelta(minutes=rng.randint(5, 600), microseconds=rng.randint(0, 999999))
        rows.append(_activation(user, role, start, start + length))
    odd = [
        (base - 3 * DAY - TICK, HOUR),  # the last microsecond of a day
        (base - 3 * DAY, HOUR),  # and the first of the next
        (base - 2 * DAY + timedelta(hours=23), 3 * HOUR),  # across midnight
        (base - 5 * DAY, timedelta(0)),  # zero length (a cancelled scheduled activation)
        (base - 6 * DAY + timedelta(seconds=1), timedelta(seconds=3599, microseconds=999600)),
        (NOW - HOUR, 2 * HOUR),  # running now
        (NOW + 2 * HOUR, HOUR),  # scheduled for later today
        (base + 3 * DAY, HOUR),  # scheduled for a later day
    ]
    for start, length in odd:
        rows.append(_activation(users[3], PASSWORD_ADMIN, start, start + length))
    rows.append(_activation(users[4], USER_ADMIN, base - 8 * DAY, None))  # no end
    _rows(env, rows)
    env.clock.set(NOW)
    return directory


def _ranges() -> dict[str, tuple[datetime, datetime]]:
    base = _midnight(NOW.date())
    return {
        "month": (NOW - timedelta(days=30), NOW + timedelta(seconds=1)),
        "week": (NOW - timedelta(days=7), NOW + timedelta(seconds=1)),
        "today": (base, NOW + timedelta(seconds=1)),
        "30 whole days": (base - 29 * DAY, base + DAY),
        "in the past": (base - 40 * DAY + 5 * HOUR, base - 3 * DAY + 7 * HOUR),
        "into the future": (base - 2 * DAY, base + 5 * DAY),
        "a year": (NOW - timedelta(days=366), NOW),
        "a minute": (NOW - timedelta(minutes=1), NOW),
    }


def test_statistics_are_the_rows_for_every_range_cold_and_warm(env: Env) -> None:
    directory = _history(env, seed=1)
    other = _history(env, seed=2)  # another directory: its days are kept apart
    for name, (since, until) in _ranges().items():
        closed_days.clear_cache()
        _check(env, directory.id, since, until)  # cold: counted and remembered
        has_closed_days = name not in ("today", "a minute")
        assert bool(_remembered(directory.id)) == has_closed_days
        _check(env, directory.id, since, until)  # warm
        _check(env, other.id, since, until)
        assert bool(_remembered(other.id)) == has_closed_days
        for role_id in ROLES:
            _check(env, directory.id, since, until, role_id)


def test_one_role_before_and_after_the_days_are_remembered(env: Env) -> None:
    directory = _history(env, seed=3)
    since, until = _ranges()["month"]
    _check(env, directory.id, since, until, PASSWORD_ADMIN)
    assert _remembered(directory.id) == {}  # one role's numbers do not fill the cache
    _check(env, directory.id, since, until)
    assert len(_remembered(directory.id)) == 30
    _check(env, directory.id, since, until, PASSWORD_ADMIN)
    _check(env, directory.id, since, until, uuid.uuid4())  # a role nobody holds


def test_the_hours_and_days_after_now_move_the_numbers(env: Env) -> None:
    """The clock moves on over a remembered history: running activations end, days close."""
    directory = _history(env, seed=4)
    for step in (timedelta(0), HOUR, 3 * HOUR, 14 * HOUR + timedelta(minutes=4), 5 * HOUR):
        env.clock.advance(step)
        now = env.now
        _check(env, directory.id, now - timedelta(days=30), now + timedelta(seconds=1))
        _check(env, directory.id, _midnight(now.date()) - 6 * DAY, _midnight(now.date()) + DAY)


def test_the_average_is_exact_to_the_microsecond(env: Env) -> None:
    """3599.9996 s is 3600.0, not 3601.0 (SQLite's date functions round to milliseconds, and
    '...:59.9996' to the next second); 1800.0496 s and 1800.0506 s average 1800.0501 s: 1800.1."""
    env.clock.set(NOW)
    directory, _ = pim_setup(env)
    ann, bob = env.user(directory, "ann"), env.user(directory, "bob")
    day = _midnight(NOW.date()) - 2 * DAY
    start = day + timedelta(hours=10)
    _rows(env, [_activation(ann, PASSWORD_ADMIN, start, start + timedelta(seconds=3599.9996))])
    _rows(env, [
        _activation(bob, USER_ADMIN, day + HOUR, day + HOUR + timedelta(seconds=1800.0496)),
        _activation(bob, USER_ADMIN, day + 2 * HOUR + timedelta(microseconds=999_999),
                    day + 2 * HOUR + timedelta(seconds=1800.0506, microseconds=999_999)),
    ])  # fmt: skip
    for _ in range(2):  # counted, then remembered
        got = _check(env, directory.id, day, day + DAY)
        averages = {r.role_id: r.average_seconds for r in got.roles}
        assert averages[PASSWORD_ADMIN] == 3600.0
        assert averages[USER_ADMIN] == 1800.1


# --- changes after a day was remembered -----------------------------------------------------------


def _activate(env: Env, user: User, role_id: uuid.UUID, duration: timedelta) -> None:
    with env.ctx(user) as ctx:
        assignments.self_activate(
            ctx, directory_id=user.directory_id, role_id=role_id, duration=duration,
            justification="statistics test",
        )  # fmt: skip


def test_activations_running_when_their_day_was_counted_count_once_they_end(env: Env) -> None:
    env.clock.set(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
    directory, _ = pim_setup(env)
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=False)
        )
    ann, bob, carl = (env.user(directory, n) for n in ("ann", "bob", "carl"))
    for user in (ann, bob, carl):
        grant(env, user, PASSWORD_ADMIN)
    env.clock.set(datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    _activate(env, ann, PASSWORD_ADMIN, 90 * MINUTE)  # ends 00:30 on the 11th
    env.clock.advance(20 * MINUTE)
    _activate(env, bob, PASSWORD_ADMIN, 8 * HOUR)  # deactivated at 00:20
    env.clock.advance(20 * MINUTE)
    _activate(env, carl, PASSWORD_ADMIN, 8 * HOUR)  # cut short by his eligibility at 00:40
    since = datetime(2026, 3, 1, tzinfo=UTC)

    def check() -> RoleSummary:
        got = _check(env, directory.id, since, env.now + timedelta(seconds=1))
        return next(r for r in got.roles if r.role_id == PASSWORD_ADMIN)

    env.clock.set(datetime(2026, 3, 11, 0, 6, tzinfo=UTC))
    assert check().average_seconds is None  # all three still running
    counted = _remembered(directory.id)
    assert counted[date(2026, 3, 10)] == env.now  # the 10th is remembered with them running

    env.clock.set(datetime(2026, 3, 11, 0, 20, tzinfo=UTC))
    with env.ctx(bob) as ctx:
        assignments.self_deactivate(ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN)
    with env.ctx() as ctx:
        assignments.admin_update(
            ctx, directory_id=directory.id, principal_id=carl.id, role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE, end_at=env.now + 20 * MINUTE,
        )  # fmt: skip
    env.clock.advance(5 * MINUTE)
    assert check().average_seconds == 3600  # bob
    env.clock.set(datetime(2026, 3, 11, 0, 35, tzinfo=UTC))
    assert check().average_seconds == (3600 + 5400) / 2  # bob and ann
    env.clock.set(datetime(2026, 3, 11, 0, 45, tzinfo=UTC))
    summary = check()
    assert summary.average_seconds == (5400 + 3600 + 3600) / 3
    assert (summary.activations, summary.distinct_users, summary.eligible) == (3, 3, 2)
    assert _remembered(directory.id) == counted  # from the remembered day all along


def test_a_day_is_remembered_once_it_ended_five_minutes_ago(env: Env) -> None:
    """A transaction that began before midnight may commit just after it: its activation
    (started the microsecond before midnight) must be in the day when it is remembered."""
    directory = _history(env, seed=5)
    ann = env.user(directory, "late")
    midnight = _midnight(NOW.date()) + DAY
    yesterday = midnight.date() - DAY
    env.clock.set(midnight + closed_days.SETTLED - TICK)
    since = midnight - 10 * DAY
    _check(env, directory.id, since, env.now)
    assert yesterday not in _remembered(directory.id)
    _rows(env, [_activation(ann, USER_ADMIN, midnight - TICK, midnight + HOUR)])
    _check(env, directory.id, since, env.now)
    env.clock.set(midnight + closed_days.SETTLED)
    got = _check(env, directory.id, since, env.now)
    assert yesterday in _remembered(directory.id)
    assert yesterday - DAY in _remembered(directory.id)
    assert got.days[-2].day == yesterday and got.days[-2].activations > 0


def test_a_row_written_outside_pim_shows_within_the_hour(env: Env) -> None:
    directory = _history(env, seed=6)
    intruder = env.user(directory, "intruder")
    since, until = _ranges()["month"]
    before = _check(env, directory.id, since, until)
    start = _midnight(NOW.date()) - 3 * DAY + HOUR
    _rows(env, [_activation(intruder, HELPDESK_ADMIN, start, start + HOUR)])
    env.clock.advance(closed_days.CACHE_TTL - TICK)
    stale = _computed(env, directory.id, since, until)
    assert stale.days[-4] == before.days[-4]  # the remembered day: not yet
    env.clock.advance(TICK)
    after = _check(env, directory.id, since, until)
    assert after.days[-4].activations == before.days[-4].activations + 1
    closed_days.clear_cache()
    _check(env, directory.id, since, until)


def test_a_new_numbering_of_users_is_consistent(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users are numbered to keep closed days small; when the numbering is renewed (it grew
    too large, or the cache was emptied while a request was counting), days counted under the
    old one are not mixed with the new."""
    env.clock.set(NOW)
    directory, _ = pim_setup(env)
    ann, bob = env.user(directory, "ann"), env.user(directory, "bob")
    _rows(env, [
        _activation(ann, USER_ADMIN, NOW - 3 * DAY, NOW - 3 * DAY + HOUR),
        _activation(bob, USER_ADMIN, NOW - 2 * HOUR, NOW - HOUR),
    ])  # fmt: skip
    since, until = _ranges()["month"]
    assert _check(env, directory.id, since, until).roles[0].distinct_users == 2
    kept = dict(closed_days._cache)
    renewed = UserNumbering()  # the same users, numbered the other way round
    renewed.numbers = {user: n for n, user in enumerate(reversed(closed_days._numbering.numbers))}
    monkeypatch.setattr(closed_days, "_numbering", renewed)
    closed_days._cache.update(kept)  # as if a request under the old numbering stored them late
    _check(env, directory.id, since, until)
    monkeypatch.setattr(closed_days, "_MAX_NUMBERS", 1)
    _check(env, directory.id, since, until)  # renews, counts again
    _check(env, _history(env, seed=7).id, since, until)


def test_days_remembered_at_different_times(env: Env) -> None:
    """Each remembered day knows which of its activations had ended when it was counted; an
    activation that ended between two days' counts is counted once."""
    directory = _history(env, seed=8)
    ann = env.user(directory, "ann")
    today = _midnight(NOW.date())
    _rows(env, [
        _activation(ann, USER_ADMIN, today - HOUR, today + 10 * MINUTE),
        _activation(ann, USER_ADMIN, today - 3 * HOUR, today - 2 * HOUR),
    ])  # fmt: skip
    env.clock.set(today + 6 * MINUTE)
    _check(env, directory.id, today - 5 * DAY, today - 2 * DAY)  # remembers three days now
    env.clock.advance(30 * MINUTE)
    _check(env, directory.id, today - 5 * DAY, env.now)  # and the two after them now
    counted = _remembered(directory.id)
    assert counted[today.date() - 5 * DAY] < counted[today.date() - DAY]
    _check(env, directory.id, today - 5 * DAY, env.now, USER_ADMIN)


def test_the_background_refresh_counts_the_default_range_before_anyone_asks(env: Env) -> None:
    directory = _history(env, 11)
    env.clock.set(NOW)
    assert _remembered(directory.id) == {}
    assert reports.refresh_statistics(env.runtime) == 1
    counted = _remembered(directory.id)
    first_closed = (NOW - reports.DEFAULT_STATS_RANGE - DAY).date()
    assert min(counted) == first_closed and max(counted) == NOW.date() - DAY
    assert set(counted.values()) == {NOW}
    # Soon after, nothing is recounted; once the refresh interval has passed, all of it is.
    env.clock.set(NOW + timedelta(minutes=5))
    assert reports.refresh_statistics(env.runtime) == 0
    later = NOW + reports.STATISTICS_REFRESH
    env.clock.set(later)
    assert reports.refresh_statistics(env.runtime) == 1
    assert set(_remembered(directory.id).values()) == {later}
    # A view then reads the refreshed days, and its numbers are still the oracle's.
    _check(env, directory.id, later - reports.DEFAULT_STATS_RANGE, later)
