"""Member counts and activations per day: exact numbers, authorisation, fresh after changes."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, inspect

from openpim.assignments import service as membership
from openpim.assignments.models import MemberType
from openpim.audit.models import AuditEvent
from openpim.audit.writer import AuditEntry, record
from openpim.directory.models import User
from openpim.kit.errors import Forbidden, ValidationFailed
from openpim.summaries import service as summaries
from tests.factories import GA, PASSWORD_ADMIN, Env


def test_role_counts_are_exact_and_follow_every_change(env: Env) -> None:
    directory, admin = env.pim_directory()
    users = [env.user(directory) for _ in range(3)]
    env.eligible(users[0], PASSWORD_ADMIN)
    env.eligible(users[1], PASSWORD_ADMIN, duration=timedelta(hours=1))
    env.permanent(users[2], PASSWORD_ADMIN, end=env.now + timedelta(days=1))
    env.activated(users[0], PASSWORD_ADMIN, duration=timedelta(hours=2))
    env.eligible(users[2], PASSWORD_ADMIN, start=env.now + timedelta(days=2))  # not yet
    with env.ctx(env.actor(admin)) as ctx:
        counts = summaries.role_counts(ctx, directory.id).by_role()
        # activated() also made an eligibility for users[0]: distinct users count once.
        assert counts[PASSWORD_ADMIN].eligible == 2
        assert counts[PASSWORD_ADMIN].time_bound == 1
        assert counts[PASSWORD_ADMIN].activated == 1
        assert counts[GA].permanent == 1
        membership.admin_assign(
            ctx,
            directory_id=directory.id,
            principal_id=users[1].id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
        )
    with env.ctx(env.actor(admin)) as ctx:
        assert summaries.role_counts(ctx, directory.id).by_role()[GA].eligible == 1
    env.clock.advance(timedelta(hours=1, minutes=1))  # users[1]'s eligibility ends by time
    with env.ctx(env.actor(admin)) as ctx:
        after = summaries.role_counts(ctx, directory.id).by_role()
        assert after[PASSWORD_ADMIN].eligible == 1


def test_counts_and_activations_need_a_reader(env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory)
    with env.ctx(env.actor(bob)) as ctx, pytest.raises(Forbidden):
        summaries.role_counts(ctx, directory.id)
    with env.ctx(env.actor(bob)) as ctx, pytest.raises(Forbidden):
        summaries.activations_by_day(ctx, directory.id, env.now - timedelta(days=1), env.now)
    with env.ctx(env.actor(bob)) as ctx:
        assert summaries.activations_by_day(ctx, None, env.now - timedelta(days=1), env.now) == []
        with pytest.raises(ValidationFailed):
            summaries.activations_by_day(ctx, None, env.now, env.now - timedelta(days=1))


def test_activations_per_day_by_role(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory)
    env.eligible(bob, PASSWORD_ADMIN, duration=timedelta(days=30))
    start = env.now
    for _ in range(3):
        with env.ctx(env.actor(bob, mfa=True)) as ctx:
            membership.self_activate(
                ctx,
                directory_id=directory.id,
                role_id=PASSWORD_ADMIN,
                duration=timedelta(hours=1),
                justification="work",
            )
        env.clock.advance(timedelta(days=1))
    with env.ctx(env.actor(admin)) as ctx:
        days = summaries.activations_by_day(ctx, directory.id, start, env.now)
        assert [(d.day, d.role, d.count) for d in days] == [
            ((start + timedelta(days=i)).date(), "Password Administrator", 1) for i in range(3)
        ]
        only_ga = summaries.activations_by_day(ctx, directory.id, start, env.now, role_id=GA)
        assert only_ga == []


def _activation(env: Env, user: User, role_id: uuid.UUID, label: str, at: datetime) -> None:
    """An activation event as the activation operation writes it, stamped `at`."""
    with env.ctx() as ctx:
        record(
            ctx,
            AuditEntry(
                action=summaries.ACTIVATED_ACTION,
                directory_id=user.directory_id,
                target_user_id=user.id,
                target_label=user.user_principal_name,
                role_id=role_id,
                role_label=label,
                occurred_at=at,
            ),
        )


def test_activations_over_many_days_match_with_ended_days_remembered(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    today = env.now.replace(hour=12, minute=0, second=0, microsecond=0)
    env.clock.set(today)
    events = [
        (today - timedelta(days=9, hours=-10), PASSWORD_ADMIN),  # 22:00 nine days ago
        (today - timedelta(days=9, hours=6), PASSWORD_ADMIN),  # 06:00: before `since`
        (today - timedelta(days=5), GA),
        (today - timedelta(days=5), PASSWORD_ADMIN),
        (today - timedelta(days=5), PASSWORD_ADMIN),
        (today - timedelta(days=1, hours=12), GA),  # 00:00 yesterday
        (today - timedelta(hours=12), GA),  # 00:00 today
        (today - timedelta(minutes=1), PASSWORD_ADMIN),
    ]
    for at, role in events:
        _activation(env, bob, role, "old label", at)
    since = today - timedelta(days=9)  # noon, nine days ago: a partial first day
    expected = Counter((at.date(), role) for at, role in events if since <= at < env.now)

    def counted() -> Counter[tuple[object, object]]:
        with env.ctx(env.actor(admin)) as ctx:
            days = summaries.activations_by_day(ctx, directory.id, since, env.now)
        names = {d.role for d in days}
        assert names <= {"Global Administrator", "Password Administrator"}
        return Counter({(d.day, d.role_id): d.count for d in days})

    assert counted() == expected
    # Today is counted again on every call; the ended days come from memory and still add up.
    _activation(env, bob, GA, "old label", env.now - timedelta(seconds=1))
    expected[(env.now.date(), GA)] += 1
    assert counted() == expected
    # A role filter or a user filter is counted straight from the database.
    with env.ctx(env.actor(admin)) as ctx:
        ga_only = summaries.activations_by_day(ctx, directory.id, since, env.now, role_id=GA)
        assert sum(d.count for d in ga_only) == sum(n for (_, r), n in expected.items() if r == GA)
        mine = summaries.activations_by_day(ctx, directory.id, since, env.now, user_id=admin.id)
        assert mine == []


def test_activations_of_a_role_that_is_gone_keep_the_recorded_name(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    gone = uuid.uuid4()
    _activation(env, bob, gone, "Retired Role", env.now - timedelta(minutes=5))
    _activation(env, bob, PASSWORD_ADMIN, "Old name", env.now - timedelta(minutes=5))
    with env.ctx(env.actor(admin)) as ctx:
        days = summaries.activations_by_day(
            ctx, directory.id, env.now - timedelta(hours=1), env.now
        )
    assert sorted((d.role, d.count) for d in days) == [
        ("Password Administrator", 1),
        ("Retired Role", 1),
    ]


def test_activations_are_counted_on_a_database_without_the_activations_index(env: Env) -> None:
    """A database not yet migrated lacks the index SQLite is pointed at: still counted."""
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    _activation(env, bob, PASSWORD_ADMIN, "Password Administrator", env.now - timedelta(hours=1))
    table = cast(Table, AuditEvent.__table__)
    index = next(i for i in table.indexes if i.name == summaries.ACTIVATIONS_INDEX)
    engine = env.runtime.db.engine
    since = env.now - timedelta(days=3)
    with env.ctx(env.actor(admin)) as ctx:
        with_index = summaries.activations_by_day(ctx, directory.id, since, env.now)
    assert [(d.role, d.count) for d in with_index] == [("Password Administrator", 1)]
    index.drop(engine)
    try:
        names = {i["name"] for i in inspect(engine).get_indexes("audit_events")}
        assert summaries.ACTIVATIONS_INDEX not in names
        summaries.clear_caches()
        with env.ctx(env.actor(admin)) as ctx:
            without = summaries.activations_by_day(ctx, directory.id, since, env.now)
        assert without == with_index
    finally:
        # checkfirst: the session database is shared, and must end the test as it began.
        index.create(engine, checkfirst=True)
        summaries.clear_caches()
