"""The access check's fast path answers exactly as the ordinary (Session, permissions) path."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, cast

import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from openpim.access import checks, onestep, pgfast, sqlitefast
from openpim.auth import tokens
from openpim.auth.anonymous import anonymous_actor
from openpim.db import direct
from openpim.kit.errors import DomainError
from tests.api.helpers import Api
from tests.factories import GLOBAL_READER, PASSWORD_ADMIN, SECURITY_READER, Env


def outcome(call: Any, *args: Any) -> Any:
    try:
        return ("ok", call(*args))
    except DomainError as err:
        return (type(err).__name__, err.code)


def test_fast_and_ordinary_paths_agree(api: Api) -> None:
    env: Env = api.env
    directory, admin = env.pim_directory()
    member = env.user(directory, "member")
    reader = env.user(directory, "reader")
    plain = env.user(directory, "plain")
    disabled = env.user(directory, "gone", enabled=False)
    stranger_dir = env.directory("Fabrikam")
    stranger = env.user(stranger_dir, "stranger")
    foreign_reader = env.user(stranger_dir, "foreign")
    env.permanent(reader, SECURITY_READER)
    env.permanent(foreign_reader, GLOBAL_READER)
    env.activated(member, PASSWORD_ADMIN)
    env.activated(disabled, PASSWORD_ADMIN)
    env.activated(stranger, PASSWORD_ADMIN)
    env.eligible(reader, GLOBAL_READER, start=env.now + timedelta(hours=1))

    callers = [admin, member, reader, plain, foreign_reader]
    targets = [member.id, reader.id, plain.id, disabled.id, stranger.id, uuid.uuid4()]
    instants = [None, env.now + timedelta(hours=2)]
    compared = 0
    for caller in callers:
        actor = env.actor(caller)
        for target in targets:
            for at in instants:
                with env.runtime.read(actor) as ctx:
                    slow = outcome(checks.holds_role, ctx, target, PASSWORD_ADMIN, at)
                    slow_set = outcome(checks.active_roles_of, ctx, target, at)
                with env.runtime.db.engine.connect() as conn:
                    fast = outcome(
                        checks.holds_role_fast, conn, actor, target, PASSWORD_ADMIN, env.now, at
                    )
                    fast_set = outcome(checks.active_roles_fast, conn, actor, target, env.now, at)
                assert fast == slow, (caller.user_principal_name, target, at)
                assert fast_set == slow_set, (caller.user_principal_name, target, at)
                compared += 1
    assert compared == len(callers) * len(targets) * len(instants)


def test_fast_token_lookup_reads_what_sqlalchemy_reads(api: Api) -> None:
    env = api.env
    _, admin = env.pim_directory()
    raw = api.token(admin)
    with env.runtime.read(anonymous_actor()) as ctx:
        expected = ctx.session.execute(tokens.TOKEN_BY_HASH, tokens.token_lookup(raw)).first()
        slow = tokens.check_token(ctx, raw)
    with env.runtime.db.engine.connect() as conn:
        row = direct.first(conn, tokens.TOKEN_BY_HASH, tokens.token_lookup(raw))
        fast = checks.authenticate_fast(conn, raw, env.now, env.runtime.settings)
        missing = direct.first(conn, tokens.TOKEN_BY_HASH, tokens.token_lookup("nope"))
    assert expected is not None and row is not None and missing is None
    assert tuple(row) == tuple(expected)
    assert [type(v) for v in row] == [type(v) for v in expected]
    assert row.last_used_at.tzinfo is not None and isinstance(row.user_id, uuid.UUID)
    assert fast == slow


@pytest.mark.parametrize("token", ["", "x" * 201, "not-a-token"])
def test_fast_path_refuses_bad_tokens_like_the_ordinary_one(api: Api, token: str) -> None:
    env = api.env
    with env.runtime.read(anonymous_actor()) as ctx:
        slow = outcome(lambda: tokens.check_token(ctx, token))
    with env.runtime.db.engine.connect() as conn:
        fast = outcome(lambda: checks.authenticate_fast(conn, token, env.now, env.runtime.settings))
    assert fast == slow == ("Unauthorized", "invalid_token")


def test_the_access_check_touches_a_stale_token_once(api: Api) -> None:
    env = api.env
    _, admin = env.pim_directory()
    token = api.token(admin)
    path = f"/access/users/{admin.id}/roles/{GLOBAL_READER}"

    def last_used() -> Any:
        with env.runtime.read(anonymous_actor()) as ctx:
            return (
                ctx.session.execute(tokens.TOKEN_BY_HASH, tokens.token_lookup(token))
                .one()
                .last_used_at
            )

    start = last_used()
    env.clock.advance(timedelta(minutes=20))
    assert api.get(token, path).json() == {"active": False}
    assert last_used() == start + timedelta(minutes=20)
    # Idle timeout (30 minutes) counts from the touch, so the session is still good 20 later.
    env.clock.advance(timedelta(minutes=20))
    assert api.get(token, path).status_code == 200


def test_one_statement_path_agrees(api: Api) -> None:
    """access.onestep (PostgreSQL: on an asyncio connection, access.pgfast; SQLite: on the
    driver connection) answers as the statement-by-statement path."""
    env: Env = api.env
    directory, admin = env.pim_directory()
    member = env.user(directory, "member")
    reader = env.user(directory, "reader")
    plain = env.user(directory, "plain")
    disabled = env.user(directory, "gone", enabled=False)
    stranger = env.user(env.directory("Fabrikam"), "stranger")
    env.permanent(reader, SECURITY_READER)
    env.activated(member, PASSWORD_ADMIN)
    env.activated(disabled, PASSWORD_ADMIN)
    env.activated(stranger, PASSWORD_ADMIN)
    env.eligible(reader, GLOBAL_READER, start=env.now + timedelta(hours=1))
    callers = {user: api.token(user) for user in (admin, member, reader, plain)}
    targets = [member.id, reader.id, plain.id, disabled.id, stranger.id, uuid.uuid4()]
    instants = [None, env.now + timedelta(hours=2), env.now.replace(tzinfo=None)]

    def sqlite_answers() -> list[Any]:
        answers = []
        with direct.connect(env.runtime.db.engine) as conn:
            for raw in [*callers.values(), "not-a-token"]:
                for target in targets:
                    for at in instants:
                        try:
                            answer = onestep.check_sqlite(
                                conn, raw, target, env.now, at, env.runtime.settings
                            )
                            answers.append(("ok", set(answer.roles)))
                        except DomainError as err:
                            answers.append((type(err).__name__, err.code))
        return answers

    async def fast_answers() -> list[Any]:
        reader_pool = pgfast.AccessReader(env.runtime.db.engine, max_size=2)
        await reader_pool.open()
        answers = []
        try:
            for raw in [*callers.values(), "not-a-token"]:
                for target in targets:
                    for at in instants:
                        try:
                            answer = await reader_pool.check(
                                raw, target, env.now, at, env.runtime.settings
                            )
                            answers.append(("ok", set(answer.roles)))
                        except DomainError as err:
                            answers.append((type(err).__name__, err.code))

            # The same matrix with every check in flight at once: sent in batches (several
            # checks per query, different tokens and instants side by side), same answers.
            async def one(raw: str, target: uuid.UUID, at: Any) -> Any:
                try:
                    answer = await reader_pool.check(raw, target, env.now, at, env.runtime.settings)
                    return ("ok", set(answer.roles))
                except DomainError as err:
                    return (type(err).__name__, err.code)

            together = await asyncio.gather(
                *(
                    one(raw, target, at)
                    for raw in [*callers.values(), "not-a-token"]
                    for target in targets
                    for at in instants
                )
            )
            assert together == answers
        finally:
            await reader_pool.close()
        return answers

    expected = []
    for raw in [*callers.values(), "not-a-token"]:
        for target in targets:
            for at in instants:
                with env.runtime.db.engine.connect() as conn:

                    def ordinary(raw: str = raw, target: uuid.UUID = target, at: Any = at) -> Any:
                        actor, _ = checks.authenticate_fast(
                            conn, raw, env.now, env.runtime.settings
                        )
                        return checks.active_roles_fast(conn, actor, target, env.now, at)

                    expected.append(outcome(ordinary))
    if pgfast.supported(env.runtime.db.engine):
        answers = asyncio.run(fast_answers())
    else:
        answers = sqlite_answers()
    assert answers == expected
    kinds = {a[0] if a[0] != "ok" else ("ok", bool(a[1])) for a in answers}
    # The matrix reaches every branch: roles found, none, refused, unauthenticated, bad instant.
    assert {("ok", True), ("ok", False), "Forbidden", "NotFound", "Unauthorized"} <= kinds
    assert "ValidationFailed" in kinds


def test_one_round_trip_path_survives_a_dropped_connection(api: Api) -> None:
    """A pooled connection killed under the reader (a server restart) costs no failed check."""
    env: Env = api.env
    if not pgfast.supported(env.runtime.db.engine):
        pytest.skip("the one-round-trip path is PostgreSQL's")
    _, admin = env.pim_directory()
    raw = api.token(admin)
    assert admin.id is not None
    engine = env.runtime.db.engine

    async def scenario() -> list[set[uuid.UUID]]:
        reader = pgfast.AccessReader(engine, max_size=1)
        await reader.open()
        try:
            settings = env.runtime.settings
            before = await reader.check(raw, admin.id, env.now, None, settings)
            with engine.connect() as conn:
                killed = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND datname = current_database()"
                    ),
                    {"name": pgfast.APPLICATION_NAME},
                ).all()
            assert killed and all(row[0] for row in killed)
            after = await reader.check(raw, admin.id, env.now, None, settings)
            return [set(before.roles), set(after.roles)]
        finally:
            await reader.close()

    before, after = asyncio.run(scenario())
    assert before == after and before


def test_batched_checks_answer_each_caller(api: Api) -> None:
    """PostgreSQL sends checks that arrive together as one query: more than a batch holds, a
    check whose request went away, and checks arriving just as a sender finishes all work."""
    env: Env = api.env
    if not pgfast.supported(env.runtime.db.engine):
        pytest.skip("batching is the PostgreSQL reader's")
    directory, _ = env.pim_directory()
    members = [env.user(directory, f"m{i}") for i in range(5)]
    for member in members[:3]:
        env.activated(member, PASSWORD_ADMIN)
    raws = {member.id: api.token(member) for member in members}
    settings = env.runtime.settings

    async def scenario() -> None:
        reader = pgfast.AccessReader(env.runtime.db.engine, max_size=2, max_in_flight=1)
        await reader.open()
        try:
            calls = [members[i % len(members)] for i in range(pgfast.MAX_BATCH * 2 + 7)]
            answers = await asyncio.gather(
                *(reader.check(raws[m.id], m.id, env.now, None, settings) for m in calls)
            )
            for member, answer in zip(calls, answers, strict=True):
                assert answer.actor.user_id == member.id
                assert bool(answer.roles) == (member in members[:3])

            # A check cancelled while it waits for its batch leaves the others to their answers.
            waiting = [
                asyncio.ensure_future(reader.check(raws[m.id], m.id, env.now, None, settings))
                for m in members
            ]
            await asyncio.sleep(0)  # each has queued its check; the sender has not yet run
            assert len(reader._waiting) == len(members)
            waiting[1].cancel()
            done = await asyncio.gather(*waiting, return_exceptions=True)
            assert isinstance(done[1], asyncio.CancelledError)
            assert [bool(a.roles) for a in done if not isinstance(a, BaseException)] == [
                True, True, False, False
            ]  # fmt: skip

            # An input the database refuses fails its own check only, not the batch it rode in.
            good = [reader.check(raws[m.id], m.id, env.now, None, settings) for m in members]
            bad = {**onestep.parameters(raws[members[0].id], members[0].id, env.now, None)}
            bad["target_id"] = "not-a-uuid"
            mixed = await asyncio.gather(reader._ask(bad), *good, return_exceptions=True)
            assert isinstance(mixed[0], psycopg.DataError)
            assert [bool(a.roles) for a in mixed[1:]] == [True, True, True, False, False]

            # One check after another on the same task: each finds a sender, though the last
            # one may only just be leaving (no wrapper task to give the loop a turn between).
            async with asyncio.timeout(30):
                for member in members * 20:
                    answer = await reader.check(raws[member.id], member.id, env.now, None, settings)
                    assert answer.actor.user_id == member.id
        finally:
            await reader.close()

    asyncio.run(scenario())


def test_held_sqlite_connection_reads_each_commit_and_pins_no_snapshot(api: Api) -> None:
    """SQLite's access checks share one connection for the app's life (access.sqlitefast): each
    check sees the latest commit, and between checks it holds no read transaction open, so a
    full WAL checkpoint still completes."""
    env: Env = api.env
    if env.runtime.db.dialect != "sqlite":
        pytest.skip("the held connection is SQLite's")
    app = cast(FastAPI, api.client.app)
    assert isinstance(app.state.access_reader, sqlitefast.SqliteAccessReader)
    directory, admin = env.pim_directory()
    member = env.user(directory, "member")
    token = api.token(admin)
    path = f"/access/users/{member.id}/roles/{PASSWORD_ADMIN}"
    assert api.get(token, path).json() == {"active": False}
    env.activated(member, PASSWORD_ADMIN)  # committed by another connection
    assert api.get(token, path).json() == {"active": True}
    with env.runtime.db.engine.connect() as conn:
        busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0
    later = {"at": (env.now + timedelta(hours=2)).isoformat()}  # the activation's hour is over
    assert api.get(token, path, params=later).json() == {"active": False}
