"""Run Alembic from code (the CLI's `openpim migrate`, `serve`, and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from openpim.db.schema import ensure_reference_data
from openpim.db.session import open_database
from openpim.kit.clock import Clock, SystemClock

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, *, revision: str = "head", clock: Clock | None = None) -> None:
    """Bring the schema to `revision` and make sure the reference data (built-in roles) exists."""
    command.upgrade(alembic_config(database_url), revision)
    database = open_database(database_url)
    try:
        with database.unit_of_work() as session:
            ensure_reference_data(session, (clock or SystemClock()).now())
    finally:
        database.dispose()


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    database = open_database(database_url)
    try:
        with database.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        database.dispose()
