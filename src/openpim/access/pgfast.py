"""The access check on PostgreSQL in one round trip, on the event loop.

The check needs the caller's token, and for a question about someone else also the caller's
reader roles and the other user's directory, before it can read the roles asked about. Asked
one by one that is two to four round trips, each waited for in a worker thread (a blocking
driver call would stall the event loop). Here one statement answers all of it: the token row
(tokens.TOKEN_BY_HASH) with three scalar subqueries beside it, the caller's roles now, the
asked-about user's roles at the instant asked, and that user's directory, all through the one
"holds a role active" predicate (access.service.active_at). It runs on an asyncio psycopg
connection from a psycopg_pool pool, so waiting for PostgreSQL costs the loop nothing.

The rules applied to the answer are the ones of access.checks (`*_fast`), in the same order:
invalid token, then a bad instant, then "may ask about this user"; tests hold the two paths to
the same answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from psycopg import OperationalError
from sqlalchemy import Engine, Table, Uuid, bindparam, case, func, null, select
from sqlalchemy.dialects import postgresql

from openpim.access.checks import instant_of, not_a_user, not_found, not_pim_reader
from openpim.access.service import active_at
from openpim.assignments.models import Assignment
from openpim.auth import tokens
from openpim.config import Settings
from openpim.db.base import UTCDateTime
from openpim.directory.models import User
from openpim.kit.context import Actor
from openpim.roles.ids import PIM_READER_ROLES

_assignments = cast(Table, Assignment.__table__)
_users = cast(Table, User.__table__)
_token = tokens.TOKEN_BY_HASH.cte("token")
_target = bindparam("target_id", type_=Uuid())


def _roles(user_id: Any, at: Any) -> Any:
    return (
        select(func.array_agg(_assignments.c.role_id))
        .where(active_at(user_id, at))
        .scalar_subquery()
    )


# Asking about oneself (the common case) needs neither the caller's reader roles nor the
# target's directory: CASE keeps PostgreSQL from running those subqueries at all.
_about_someone_else = _token.c.user_id != _target
ACCESS_CHECK = select(
    *_token.c,
    case(
        (
            _about_someone_else,
            _roles(_token.c.user_id, bindparam("now", type_=UTCDateTime())),
        ),
        else_=null(),
    ).label("caller_roles"),
    _roles(_target, bindparam("at", type_=UTCDateTime())).label("target_roles"),
    case(
        (
            _about_someone_else,
            select(_users.c.directory_id).where(_users.c.id == _target).scalar_subquery(),
        ),
        else_=null(),
    ).label("target_directory_id"),
)
ACCESS_CHECK_SQL = str(ACCESS_CHECK.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Answer:
    roles: frozenset[uuid.UUID]
    actor: Actor
    touch_due: bool


def judge(
    row: Any, now: datetime, at: datetime | None, user_id: uuid.UUID, settings: Settings
) -> Answer:
    """The access-check rules on one ACCESS_CHECK row (None when no token matched)."""
    actor, touch_due = tokens.judge_token(row, now, settings)
    instant_of(now, at)  # a bad instant is refused after the token, as on the other path
    if actor.user_id != user_id:
        if actor.user_id is None or actor.directory_id is None:
            raise not_a_user()
        if not set(row.caller_roles or ()) & PIM_READER_ROLES:
            raise not_pim_reader()
        if row.target_directory_id is None or row.target_directory_id != actor.directory_id:
            raise not_found()
    return Answer(frozenset(row.target_roles or ()), actor, touch_due)


# How the pool's connections show in pg_stat_activity.
APPLICATION_NAME = "openpim-access-check"


class AccessReader:
    """A small pool of asyncio psycopg connections for the access check (autocommit reads)."""

    def __init__(self, engine: Engine, max_size: int = 8) -> None:
        from psycopg.rows import namedtuple_row
        from psycopg_pool import AsyncConnectionPool

        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: Any = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={
                "autocommit": True,
                "row_factory": namedtuple_row,
                "application_name": APPLICATION_NAME,
            },
            name="openpim-access",
        )

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    async def check(
        self,
        raw_token: str,
        user_id: uuid.UUID,
        now: datetime,
        at: datetime | None,
        settings: Settings,
    ) -> Answer:
        params = {
            **tokens.token_lookup(raw_token),
            "now": now,
            "target_id": user_id,
            # An unusable instant is refused by judge(); the query just needs some value.
            "at": _usable(at) or now,
        }
        try:
            row = await self._fetch(params)
        except OperationalError:
            # A pooled connection that died (a server restart, a killed backend) is dropped
            # by the pool on its return; the read is safe to ask again on a fresh one, as the
            # threaded path's pre-ping would have.
            row = await self._fetch(params)
        return judge(row, now, at, user_id, settings)

    async def _fetch(self, params: dict[str, Any]) -> Any:
        async with self._pool.connection() as conn:
            # prepare=True: planned once per connection, as the threaded path does.
            cursor = await conn.execute(ACCESS_CHECK_SQL, params, prepare=True)
            return await cursor.fetchone()


def _usable(at: datetime | None) -> datetime | None:
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        return None
    return at


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
