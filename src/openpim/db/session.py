"""Engines and the unit of work.

The unit of work owns the transaction: services flush, never commit. On SQLite a write unit
takes the database lock up front (BEGIN IMMEDIATE) so two writers queue instead of failing
half-way with "database is locked"; reads use plain deferred transactions. On PostgreSQL the
services take row locks (SELECT ... FOR UPDATE) where an invariant needs one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

WRITE_OPTION = "openpim_write"


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    if _is_sqlite(url):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass
class Database:
    """The engine plus two session factories: one for reads, one for write units of work."""

    engine: Engine

    def __post_init__(self) -> None:
        # SQLite has one writer at a time. Waiting writers of this process queue on a lock
        # here instead of in SQLite's busy handler, which sleeps in growing steps and keeps
        # missing the moment the database frees up (seconds of tail latency under load).
        # Re-entrant so a nested unit in one thread fails on SQLite's lock, not here.
        self._write_turn = threading.RLock() if self.engine.dialect.name == "sqlite" else None
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: everything inside commits together or not at all."""
        with self._write_turn or nullcontext():
            session = self._write()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        session = self._read()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, **kwargs: Any) -> Database:
    return Database(make_engine(url, **kwargs))
