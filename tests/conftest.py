"""Test infrastructure: every database test runs on SQLite and, when reachable, PostgreSQL.

PostgreSQL: a fresh database per test session on OPENPIM_TEST_POSTGRES_ADMIN_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test). When it is unreachable the PostgreSQL
half is skipped with a clear line, unless OPENPIM_REQUIRE_POSTGRES=1 (CI), which fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from openpim.config import Settings
from openpim.db.models import Base
from openpim.db.schema import ensure_reference_data
from openpim.db.session import Database, open_database
from openpim.kit.clock import FrozenClock
from openpim.runtime import Runtime
from tests.factories import Env

ADMIN_URL = os.environ.get(
    "OPENPIM_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("OPENPIM_REQUIRE_POSTGRES") == "1"

_pg_state: dict[str, str | None] = {"reason": None}


def _postgres_reason() -> str | None:
    """None when PostgreSQL is usable, else why not."""
    try:
        engine = create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not available here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def pytest_configure(config: pytest.Config) -> None:
    _pg_state["reason"] = _postgres_reason()
    if _pg_state["reason"] and REQUIRE_POSTGRES:
        raise pytest.UsageError(
            f"OPENPIM_REQUIRE_POSTGRES=1 but PostgreSQL at {ADMIN_URL} is unreachable: "
            f"{_pg_state['reason']}"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = _pg_state["reason"]
    if reason:
        terminalreporter.write_line(
            f"PostgreSQL tests SKIPPED: {ADMIN_URL} unreachable ({reason}). "
            "Only the SQLite suite ran.",
            yellow=True,
            bold=True,
        )
    else:
        terminalreporter.write_line(f"PostgreSQL tests ran against {ADMIN_URL}.", green=True)


def _create_pg_database() -> tuple[str, str]:
    name = f"openpim_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base = ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "openpim.db"
        yield f"sqlite:///{path}"
        return
    if _pg_state["reason"]:
        pytest.skip(f"PostgreSQL unreachable: {_pg_state['reason']}")
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture(scope="session")
def database(backend_url: str) -> Iterator[Database]:
    database = open_database(backend_url)
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def _reset(database: Database, clock: FrozenClock) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables)]
    with database.unit_of_work() as session:
        if database.dialect == "postgresql":
            names = ", ".join(t.name for t in tables if t.name != "role_definitions")
            session.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in tables:
                if table.name == "role_definitions":
                    # Custom roles reference their directory: they go before directories do.
                    session.execute(table.delete().where(table.c.is_built_in.is_(False)))
                else:
                    session.execute(table.delete())
        session.execute(text("DELETE FROM role_definitions WHERE is_built_in = false"))
        ensure_reference_data(session, clock.now())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def db(database: Database, clock: FrozenClock) -> Database:
    _reset(database, clock)
    return database


@pytest.fixture
def settings(backend_url: str) -> Settings:
    return Settings(database_url=backend_url, secret_key="test-secret-key-0123456789abcdef")  # type: ignore[arg-type]


@pytest.fixture
def runtime(db: Database, clock: FrozenClock, settings: Settings) -> Runtime:
    return Runtime(settings=settings, db=db, clock=clock)


@pytest.fixture
def env(runtime: Runtime, clock: FrozenClock) -> Env:
    return Env(runtime=runtime, clock=clock)


@pytest.fixture
def is_postgres(backend_url: str) -> bool:
    return backend_url.startswith("postgresql")
