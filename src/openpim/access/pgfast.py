"""The access check on PostgreSQL in one round trip, on the event loop.

The statement (access.onestep) answers token, permission and roles together; it runs here on
an asyncio psycopg connection from a psycopg_pool pool, so waiting for PostgreSQL costs the
loop nothing (a blocking driver call would need a worker thread per check).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import OperationalError
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql

from openpim.access import onestep
from openpim.config import Settings

ACCESS_CHECK_SQL = str(
    onestep.POSTGRESQL_STATEMENT.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
)


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
    ) -> onestep.Answer:
        params = onestep.parameters(raw_token, user_id, now, at)
        try:
            row = await self._fetch(params)
        except OperationalError:
            # A pooled connection that died (a server restart, a killed backend) is dropped
            # by the pool on its return; the read is safe to ask again on a fresh one, as the
            # threaded path's pre-ping would have.
            row = await self._fetch(params)
        return onestep.judge(row, now, at, user_id, settings, onestep.roles_of_array)

    async def _fetch(self, params: dict[str, Any]) -> Any:
        async with self._pool.connection() as conn:
            # prepare=True: planned once per connection, as the threaded path does.
            cursor = await conn.execute(ACCESS_CHECK_SQL, params, prepare=True)
            return await cursor.fetchone()


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
