"""db.direct: Core statements on the driver connection behave as SQLAlchemy's execute does."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from openpim.assignments.models import MemberType, RequestAction, RequestStatus, RoleRequest
from openpim.db import direct
from openpim.notifications.models import OutboxMessage
from tests.factories import PASSWORD_ADMIN, Env

_outbox = cast(Table, OutboxMessage.__table__)
_INSERT_OUTBOX = insert(_outbox)
_OUTBOX_BY_ID = select(_outbox).where(_outbox.c.id == bindparam("id"))
_DELAY = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("message_id"))
    .values(available_at=bindparam("available_at"))
)


def _outbox_row(env: Env, message_id: uuid.UUID) -> Any:
    with env.runtime.db.reader() as s:
        return s.execute(select(_outbox).where(_outbox.c.id == message_id)).one()


def test_insert_fills_defaults_and_leaves_unset_columns_sql_null(env: Env) -> None:
    message_id = uuid.uuid4()
    with env.ctx() as ctx:
        conn = ctx.session.connection()
        direct.execute(
            conn,
            _INSERT_OUTBOX,
            {
                "id": message_id,
                "event_type": "test.event",
                "payload": {"n": 1, "at": "x"},
                "created_at": ctx.now,
                "available_at": ctx.now,
            },
        )
        # Read back in the same transaction through the same type processors.
        row = direct.first(conn, _OUTBOX_BY_ID, {"id": message_id})
    assert row.payload == {"n": 1, "at": "x"}
    assert row.attempts == 0  # the column's scalar default
    assert row.created_at == env.now  # aware UTC back from naive text on SQLite
    stored = _outbox_row(env, message_id)
    assert stored.content is None and stored.summary is None
    with env.runtime.db.reader() as s:
        # SQL NULL, not a JSON 'null' the JSON type would make of None.
        nulls = s.execute(
            text("SELECT count(*) FROM outbox_messages WHERE content IS NULL AND id = :id"),
            {"id": message_id.hex if env.runtime.db.dialect == "sqlite" else message_id},
        ).scalar_one()
    assert nulls == 1


def test_generated_ids_and_executemany(env: Env) -> None:
    with env.ctx() as ctx:
        base = {"event_type": "t", "payload": {}, "created_at": ctx.now, "available_at": ctx.now}
        direct.execute(ctx.session.connection(), _INSERT_OUTBOX, [base, base, base])
        ids = ctx.session.execute(select(_outbox.c.id)).scalars().all()
    assert len(set(ids)) == 3  # a fresh id per row


def test_update_with_a_statement_default_and_rowcount(env: Env) -> None:
    message_id = uuid.uuid4()
    later = env.now + timedelta(hours=1)
    with env.ctx() as ctx:
        conn = ctx.session.connection()
        row = {"event_type": "t", "payload": {}, "created_at": ctx.now, "available_at": ctx.now}
        direct.execute(conn, _INSERT_OUTBOX, {**row, "id": message_id})
        moved = direct.execute(conn, _DELAY, {"message_id": message_id, "available_at": later})
        missed = direct.execute(conn, _DELAY, {"message_id": uuid.uuid4(), "available_at": later})
        assert (moved, missed) == (1, 0)
    assert _outbox_row(env, message_id).available_at == later


def test_driver_errors_surface_as_sqlalchemy_errors_and_roll_back(env: Env) -> None:
    message_id = uuid.uuid4()
    row = {"event_type": "t", "payload": {}, "created_at": env.now, "available_at": env.now}
    with pytest.raises(IntegrityError), env.ctx() as ctx:
        direct.execute(ctx.session.connection(), _INSERT_OUTBOX, {**row, "id": message_id})
        direct.execute(ctx.session.connection(), _INSERT_OUTBOX, {**row, "id": message_id})
    with env.runtime.db.reader() as s:
        assert s.execute(select(_outbox.c.id)).all() == []  # the first insert went too


def test_a_missing_required_value_is_refused_before_the_database() -> None:
    compiled_for = direct._compile(_INSERT_OUTBOX, _sqlite_dialect())
    with pytest.raises(KeyError, match="event_type"):
        direct._bound(compiled_for, {"payload": {}})


def test_insert_object_joins_the_session_as_if_loaded(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx() as ctx:
        request = RoleRequest(
            id=uuid.uuid4(),
            directory_id=directory.id,
            action=RequestAction.ADMIN_ASSIGN,
            member_type=MemberType.ELIGIBLE,
            principal_id=admin.id,
            role_id=PASSWORD_ADMIN,
            requested_by_label="tests",
            status=RequestStatus.PENDING_APPROVAL,
            created_at=ctx.now,
        )
        direct.insert_object(ctx.session, request)
        assert request.mfa_verified is False  # the column default, on the object too
        request.status = RequestStatus.DENIED  # still tracked: written at commit
    with env.runtime.db.reader() as s:
        stored = s.get(RoleRequest, request.id)
        assert stored is not None
        assert stored.status == RequestStatus.DENIED and stored.mfa_verified is False
        assert stored.justification is None


def test_an_expanding_in_is_refused() -> None:
    statement = select(_outbox.c.id).where(_outbox.c.event_type.in_(("a", "b")))
    with pytest.raises(AssertionError, match="expanding IN"):
        direct._compile(statement, _sqlite_dialect())


def _sqlite_dialect() -> Any:
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


# Only the columns named in .values() (and those with a default) are written.
_INSERT_RETRIED = insert(_outbox).values(
    attempts=3,
    event_type=bindparam("event_type"),
    payload=bindparam("payload"),
    created_at=bindparam("created_at"),
    available_at=bindparam("available_at"),
)


def test_a_value_in_the_statement_wins_over_the_column_default(env: Env) -> None:
    message_id = uuid.uuid4()
    with env.ctx() as ctx:
        row = {"event_type": "t", "payload": {}, "created_at": ctx.now, "available_at": ctx.now}
        direct.execute(ctx.session.connection(), _INSERT_RETRIED, {**row, "id": message_id})
    assert _outbox_row(env, message_id).attempts == 3  # not the column's default of 0
