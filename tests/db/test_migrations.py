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


def test_upgrading_a_populated_database_keeps_every_row(empty_url: str) -> None:
    """0003 rebuilds `users` on SQLite (batch mode): the rows pointing at users must survive."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from openpim.assignments.models import Assignment
    from openpim.directory.models import AccountKind, Directory, User
    from openpim.roles.ids import GLOBAL_ADMINISTRATOR

    upgrade(empty_url, revision="0002")
    now = datetime.now(UTC)
    engine = create_engine(empty_url)
    with Session(engine) as session:
        directory = Directory(name="Contoso", created_at=now)
        session.add(directory)
        session.flush()
        user = User(
            directory_id=directory.id,
            user_principal_name="ada@contoso.example",
            display_name="Ada",
            account_kind=AccountKind.ORGANIZATIONAL,
            enabled=True,
            totp_secret="JBSWY3DPEHPK3PXP",
            created_at=now,
        )
        session.add(user)
        session.flush()
        session.add(
            Assignment(
                directory_id=directory.id,
                principal_id=user.id,
                role_id=GLOBAL_ADMINISTRATOR,
                start_at=now,
                end_at=None,
                assignment_type="Assigned",
                created_via="import",
                created_at=now,
            )
        )
        session.commit()
    engine.dispose()
    tables = ("users", "assignments", "directories")

    def counts() -> dict[str, int]:
        engine = create_engine(empty_url)
        with engine.connect() as conn:
            found = {
                t: conn.execute(text(f"select count(*) from {t}")).scalar_one() for t in tables
            }
            if engine.dialect.name == "sqlite":
                assert conn.execute(text("pragma foreign_key_check")).all() == []
        engine.dispose()
        return found

    before = counts()
    upgrade(empty_url)
    assert before["users"] == 1 and before["assignments"] == 1
    assert counts() == before
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        secret = conn.execute(text("select totp_secret from users")).scalar_one()
    engine.dispose()
    assert secret == "JBSWY3DPEHPK3PXP"
