"""active_role_ids' raw-driver fast path gives exactly the Core statement's answer.

(Lives here because the fast path came with the access benchmark, bench/bench_access.py.)
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta, timezone

from sqlalchemy import bindparam, or_, select

from openpim.access.service import active_role_ids
from openpim.assignments.models import Assignment, AssignmentType
from openpim.directory.models import User
from tests.factories import GA, PASSWORD_ADMIN, PRA, SECURITY_ADMIN, USER_ADMIN, Env

ROLES = (GA, PRA, SECURITY_ADMIN, USER_ADMIN, PASSWORD_ADMIN)
_a, _u = Assignment.__table__.c, User.__table__.c
# The plain statement of the rule, executed through SQLAlchemy: start <= t < end, user enabled.
REFERENCE = (
    select(_a.role_id)
    .select_from(Assignment.__table__.join(User.__table__, _u.id == _a.principal_id))
    .where(
        _a.principal_id == bindparam("user_id"),
        _a.start_at <= bindparam("at"),
        or_(_a.end_at.is_(None), _a.end_at > bindparam("at")),
        _u.enabled.is_(True),
    )
)


def _reference(env: Env, user_id: uuid.UUID, at_offset: timedelta) -> set[uuid.UUID]:
    with env.runtime.db.engine.connect() as conn:
        rows = conn.execute(REFERENCE, {"user_id": user_id, "at": env.now + at_offset})
        return {row[0] for row in rows}


def test_fast_path_matches_the_core_statement(env: Env) -> None:
    rng = random.Random(7)
    directory = env.directory()
    users = [env.user(directory, enabled=rng.random() > 0.2) for _ in range(6)]
    for user in users:
        for _ in range(5):
            start = env.now + timedelta(minutes=rng.randrange(-120, 120),
                                        microseconds=rng.randrange(0, 999_999))  # fmt: skip
            end = None if rng.random() < 0.3 else start + timedelta(minutes=rng.randrange(1, 90))
            env.permanent(user, rng.choice(ROLES), start=start, end=end)
    offsets = [timedelta(minutes=m, microseconds=us) for m in range(-130, 130, 7)
               for us in (0, 1, 500_000)]  # fmt: skip
    with env.runtime.db.reader() as s:
        for user in users:
            for offset in offsets:
                expected = _reference(env, user.id, offset)
                assert active_role_ids(s, user.id, env.now + offset) == expected
                if not user.enabled:
                    assert expected == set()


def test_boundaries_and_time_zones(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory)
    start = env.now + timedelta(microseconds=250)
    env.permanent(alice, GA, start=start, end=start + timedelta(hours=1))
    with env.runtime.db.reader() as s:
        assert active_role_ids(s, alice.id, start - timedelta(microseconds=1)) == set()
        assert active_role_ids(s, alice.id, start) == {GA}
        assert active_role_ids(s, alice.id, start + timedelta(hours=1)) == set()
        # The same instant written in another zone is the same instant.
        paris = timezone(timedelta(hours=1))
        assert active_role_ids(s, alice.id, start.astimezone(paris)) == {GA}
    with env.runtime.db.engine.connect() as conn:
        assert active_role_ids(conn, alice.id, start) == {GA}


def test_sees_the_callers_flushed_writes(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory)
    with env.ctx() as ctx:
        ctx.session.add(
            Assignment(
                directory_id=directory.id, principal_id=alice.id, role_id=PRA, start_at=env.now,
                end_at=None, assignment_type=AssignmentType.ASSIGNED, created_via="pim",
                created_at=env.now,
            )
        )  # fmt: skip
        ctx.session.flush()
        assert active_role_ids(ctx.session, alice.id, env.now) == {PRA}
        user = ctx.session.get(User, alice.id)
        assert user is not None
        user.enabled = False
        ctx.session.flush()
        assert active_role_ids(ctx.session, alice.id, env.now) == set()


def test_naive_instants_are_refused(env: Env) -> None:
    import pytest

    with env.runtime.db.reader() as s, pytest.raises(ValueError, match="naive"):
        active_role_ids(s, uuid.uuid4(), env.now.replace(tzinfo=None))
