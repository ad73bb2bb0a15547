"""The SQLite access check on one connection held for the event loop's life.

On SQLite the access check runs on the event-loop thread (its reads never wait for a lock) as
one statement (access.onestep). Borrowing a pooled connection for each check cost more than
the statement: SQLAlchemy's checkout, reset-on-return ROLLBACK and checkin were 13% of the
server's CPU under load. This reader checks a connection out once when the app starts and
returns it at shutdown. The driver connection is in autocommit mode (db.session takes
transaction control away from the sqlite3 module and no BEGIN is ever sent on it), so each
check is its own read of the latest commit, and the held connection never pins an old
snapshot or stops a WAL checkpoint.

Only the event loop uses it, one check at a time, so it needs no lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, Engine

from openpim.access import onestep
from openpim.config import Settings


class SqliteAccessReader:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    async def open(self) -> None:
        self._conn = self._engine.connect()

    async def check(
        self,
        raw_token: str,
        user_id: uuid.UUID,
        now: datetime,
        at: datetime | None,
        settings: Settings,
    ) -> onestep.Answer:
        if self._conn is None:
            raise RuntimeError("the SQLite access reader is closed")
        return onestep.check_sqlite(self._conn, raw_token, user_id, now, at, settings)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
