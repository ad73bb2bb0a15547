"""The directory's history, as Graph filters and pages it, is for PIM's readers only: the rule
is in audit.query, not in the Graph routes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openpim.audit import query
from openpim.audit.models import AuditEvent
from openpim.audit.writer import AuditEntry, record
from openpim.kit.errors import Forbidden, NotFound
from tests.factories import SECURITY_READER, Env


def test_only_readers_get_the_directory_history(env: Env) -> None:
    directory, admin = env.pim_directory()
    other, _ = env.pim_directory()
    bob, reader = env.user(directory, "bob"), env.user(directory, "reader")
    env.permanent(reader, SECURITY_READER)
    with env.ctx() as ctx:
        for d in (directory, other, directory):
            record(ctx, AuditEntry(action="test.event", directory_id=d.id))
    with env.runtime.read(env.actor(admin)) as ctx:
        ours = ctx.session.scalars(
            select(AuditEvent.seq).where(AuditEvent.directory_id == directory.id)
        ).all()
        theirs = ctx.session.scalars(
            select(AuditEvent.seq).where(AuditEvent.directory_id == other.id)
        ).all()
    assert len(ours) == 2 and len(theirs) == 1

    with env.runtime.read(env.actor(reader)) as ctx:
        statement = query.directory_events_statement(ctx, directory.id)
        assert sorted(e.seq for e in ctx.session.scalars(statement)) == sorted(ours)
        assert query.get_event(ctx, directory.id, ours[0]).seq == ours[0]
        with pytest.raises(NotFound):
            query.get_event(ctx, directory.id, theirs[0])  # another directory's event
    with env.runtime.read(env.actor(bob)) as ctx:
        with pytest.raises(Forbidden):
            query.directory_events_statement(ctx, directory.id)
        with pytest.raises(Forbidden):
            query.get_event(ctx, directory.id, ours[0])
