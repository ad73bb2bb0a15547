"""The membership views authorise the statements Graph filters and pages (one rule, in the
service): everyone reads their own schedules and requests, PIM's readers read everyone's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select

from openpim.assignments import service
from openpim.assignments.models import Assignment, Eligibility, MemberType, RoleRequest
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Forbidden, NotFound
from tests.assignments.helpers import activate
from tests.factories import PASSWORD_ADMIN, SECURITY_READER, Env

Statement = Callable[[Ctx], Select[Any]]


def _ids(env: Env, actor: User, statement: Statement) -> set[uuid.UUID]:
    with env.runtime.read(env.actor(actor)) as ctx:
        return {row.id for row in ctx.session.scalars(statement(ctx))}


def test_schedules_everyone_reads_their_own_and_readers_read_all(env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob, carol, reader = (env.user(directory, n) for n in ("bob", "carol", "reader"))
    env.permanent(reader, SECURITY_READER)
    bobs, carols = env.eligible(bob, PASSWORD_ADMIN), env.eligible(carol, PASSWORD_ADMIN)

    def of(principal: User) -> Statement:
        return lambda ctx: service.schedules_statement(
            ctx, directory.id, Eligibility, principal_id=principal.id
        )

    def everyone(ctx: Ctx) -> Select[Any]:
        return service.schedules_statement(ctx, directory.id, Eligibility)

    assert _ids(env, bob, of(bob)) == {bobs.id}
    assert _ids(env, reader, of(carol)) == {carols.id}
    assert {bobs.id, carols.id} <= _ids(env, reader, everyone)
    for refused in (of(carol), everyone):
        with pytest.raises(Forbidden), env.runtime.read(env.actor(bob)) as ctx:
            refused(ctx)


def test_one_schedule_is_for_its_member_and_readers(env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob, carol, reader = (env.user(directory, n) for n in ("bob", "carol", "reader"))
    env.permanent(reader, SECURITY_READER)
    bobs = env.eligible(bob, PASSWORD_ADMIN, end=env.now + timedelta(days=1))

    for allowed in (bob, reader):
        with env.runtime.read(env.actor(allowed)) as ctx:
            assert service.get_schedule(ctx, directory.id, Eligibility, bobs.id).id == bobs.id
    with pytest.raises(Forbidden), env.runtime.read(env.actor(carol)) as ctx:
        service.get_schedule(ctx, directory.id, Eligibility, bobs.id)
    with pytest.raises(NotFound), env.runtime.read(env.actor(bob)) as ctx:
        service.get_schedule(ctx, directory.id, Assignment, bobs.id)  # not an assignment
    env.clock.advance(timedelta(days=2))
    with pytest.raises(NotFound), env.runtime.read(env.actor(bob)) as ctx:
        service.get_schedule(
            ctx,
            directory.id,
            Eligibility,
            bobs.id,
            Eligibility.end_at > ctx.now,  # the caller's condition (Graph: "still live")
        )


def test_requests_everyone_reads_their_own_and_readers_read_all(env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob, carol, reader = (env.user(directory, n) for n in ("bob", "carol", "reader"))
    env.permanent(reader, SECURITY_READER)
    env.eligible(bob, PASSWORD_ADMIN)
    env.eligible(carol, PASSWORD_ADMIN)
    mine, theirs = activate(env, bob, PASSWORD_ADMIN), activate(env, carol, PASSWORD_ADMIN)

    def by(
        principal: User | None = None,
        creator: User | None = None,
        member_type: MemberType | None = None,
    ) -> Statement:
        return lambda ctx: service.requests_statement(
            ctx,
            directory.id,
            principal_id=principal.id if principal else None,
            requested_by_id=creator.id if creator else None,
            member_type=member_type,
        )

    assert _ids(env, bob, by(principal=bob)) == {mine.id}
    assert _ids(env, bob, by(creator=bob)) == {mine.id}
    assert _ids(env, bob, by(principal=bob, member_type=MemberType.ELIGIBLE)) == set()
    assert {mine.id, theirs.id} <= _ids(env, reader, by())
    assert _ids(env, reader, by(principal=carol)) == {theirs.id}
    for refused in (by(), by(principal=carol), by(creator=carol)):
        with pytest.raises(Forbidden), env.runtime.read(env.actor(bob)) as ctx:
            refused(ctx)
    # list_requests keeps the same rule (it is built on the statement).
    with env.runtime.read(env.actor(bob)) as ctx:
        assert [r.id for r in service.list_requests(ctx, directory.id, principal_id=bob.id)] == [
            mine.id
        ]
        with pytest.raises(Forbidden):
            service.list_requests(ctx, directory.id)
    assert isinstance(mine, RoleRequest)
