"""Member counts and activations per day: exact numbers, authorisation, fresh after changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openpim.assignments import service as membership
from openpim.assignments.models import MemberType
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
