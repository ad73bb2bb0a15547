"""SQLite's write-ahead log moved into the database file by a background thread.

By default the connection whose commit pushes the WAL past 1,000 pages copies it back into the
database file there and then, fsyncs included: one write request in thirty paid 10-15 ms for
everyone's pages (the self-activation benchmark's p99). A server process instead runs a
PASSIVE checkpoint every `interval` seconds on a connection of its own (PASSIVE never waits
for readers or writers, and the sqlite3 module releases the GIL while it copies and syncs),
and the request connections it opens afterwards only checkpoint themselves past
BACKSTOP_PAGES, should this thread ever fall behind.

Durability is unchanged: a commit is in the WAL either way (synchronous=NORMAL); checkpoints
only decide when the pages also reach the main file.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

# About 40 MB of WAL with 4 KiB pages before a request connection checkpoints inline.
BACKSTOP_PAGES = 10_000
DEFAULT_INTERVAL_SECONDS = 0.5


class WalCheckpointer:
    def __init__(self, engine: Engine, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        assert engine.dialect.name == "sqlite", "WAL checkpoints are SQLite's"
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        event.listen(self._engine, "connect", _raise_autocheckpoint)
        self._thread = threading.Thread(
            target=self._run, name="openpim-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if event.contains(self._engine, "connect", _raise_autocheckpoint):
            event.remove(self._engine, "connect", _raise_autocheckpoint)

    def _run(self) -> None:
        with self._engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            while not self._stop.wait(self._interval):
                try:
                    checkpoint(driver)
                    self.checkpoints += 1
                except Exception:
                    # A request's commit checkpoints past the backstop; keep trying.
                    log.exception("WAL checkpoint failed")


def checkpoint(driver: Any) -> tuple[int, int, int]:
    """One PASSIVE checkpoint on a sqlite3 connection: (busy, WAL pages, pages copied)."""
    row = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _raise_autocheckpoint(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
