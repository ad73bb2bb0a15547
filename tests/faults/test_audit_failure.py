"""A change and its audit record commit together or not at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from openpim.assignments import service
from openpim.assignments.models import Assignment, RoleRequest
from openpim.audit import writer
from openpim.audit.models import AuditEvent
from openpim.notifications.models import OutboxMessage
from tests.factories import GA, Env


class AuditStoreDown(RuntimeError):
    pass


def _counts(env: Env) -> tuple[int, int, int, int]:
    with env.runtime.db.reader() as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Assignment, RoleRequest, AuditEvent, OutboxMessage)
        )


def test_failed_audit_write_leaves_nothing_behind(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    before = _counts(env)

    def broken(ctx, entries):  # type: ignore[no-untyped-def]
        raise AuditStoreDown("audit table unavailable")

    monkeypatch.setattr(writer, "record_many", broken)
    with pytest.raises(AuditStoreDown), env.ctx(env.actor(bob, mfa=True)) as ctx:
        service.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=GA,
            duration=timedelta(hours=1),
            justification="x",
        )
    assert _counts(env) == before
    monkeypatch.undo()
    with env.ctx(env.actor(bob, mfa=True)) as ctx:
        service.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=GA,
            duration=timedelta(hours=1),
            justification="x",
        )
    after = _counts(env)
    assert after[0] == before[0] + 1 and after[2] > before[2]


def test_failed_audit_insert_at_database_level_rolls_back(env: Env) -> None:
    """A real database error inside the audit insert (not a Python stub) rolls everything back."""
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    before = _counts(env)
    with env.runtime.db.unit_of_work() as s:
        # Occupy the next sequence number so the writer's insert violates the primary key.
        head = s.execute(select(writer.AuditChainHead)).scalar_one()
        s.add(
            AuditEvent(
                seq=head.last_seq + 1,
                occurred_at=env.now,
                actor_label="x",
                action="squatter",
                result="success",
                prev_hash="0" * 64,
                hash="0" * 64,
            )
        )
    before = _counts(env)
    with pytest.raises(IntegrityError), env.ctx(env.actor(bob, mfa=True)) as ctx:
        service.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=GA,
            duration=timedelta(hours=1),
            justification="x",
        )
    assert _counts(env) == before
