"""Alembic is the source of the schema: upgrading an empty database must give the models' schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from openpim.db.migrate import current_revision, upgrade
from openpim.db.models import Base
from openpim.roles.catalog import BUILT_IN_ROLES
from openpim.roles.models import RoleDefinition
from tests.conftest import _create_pg_database, _drop_pg_database, _pg_state


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    if _pg_state["reason"]:
        pytest.skip(f"PostgreSQL unreachable: {_pg_state['reason']}")
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


def test_upgrade_head_matches_models_and_is_repeatable(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)  # idempotent: a second run changes nothing and fails nothing
    assert current_revision(empty_url) is not None
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        count = conn.execute(select(text("count(*)")).select_from(RoleDefinition.__table__))
        assert count.scalar_one() == len(BUILT_IN_ROLES)
    engine.dispose()
