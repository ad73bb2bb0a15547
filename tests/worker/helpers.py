"""Shared checks for the worker tests: what the audit and the outbox hold, and chain integrity."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from openpim.assignments.models import Assignment, Eligibility, RoleRequest
from openpim.audit.chain import GENESIS_HASH, HASHED_FIELDS, link_hash
from openpim.audit.models import AuditEvent
from openpim.notifications.models import OutboxMessage
from openpim.runtime import Runtime
from openpim.worker import Worker
from tests.factories import Env


def worker(env: Env, *, batch_size: int | None = None) -> Worker:
    runtime = env.runtime
    if batch_size is not None:
        settings = runtime.settings.model_copy(update={"worker_batch_size": batch_size})
        runtime = replace(runtime, settings=settings)
    return Worker(runtime)


def runtime_with(env: Env, **settings: Any) -> Runtime:
    return replace(env.runtime, settings=env.runtime.settings.model_copy(update=settings))


def audit_events(env: Env, action: str | None = None) -> list[AuditEvent]:
    with env.runtime.db.reader() as s:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        rows = list(s.execute(query).scalars())
        s.expunge_all()  # detached before the reader's rollback expires them
        return rows


def events_per_schedule(env: Env) -> Counter[uuid.UUID | None]:
    return Counter(event.schedule_id for event in audit_events(env))


def outbox(env: Env, event_type: str | None = None) -> list[OutboxMessage]:
    with env.runtime.db.reader() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at)
        if event_type is not None:
            query = query.where(OutboxMessage.event_type == event_type)
        rows = list(s.execute(query).scalars())
        s.expunge_all()  # detached before the reader's rollback expires them
        return rows


def outbox_per_schedule(env: Env) -> Counter[str]:
    return Counter(str(message.payload.get("schedule_id")) for message in outbox(env))


def schedule(env: Env, model: type[Assignment] | type[Eligibility], id_: uuid.UUID) -> Any:
    with env.runtime.db.reader() as s:
        row = s.get(model, id_)
        s.expunge_all()
        return row


def request(env: Env, id_: uuid.UUID) -> RoleRequest:
    with env.runtime.db.reader() as s:
        row = s.get(RoleRequest, id_)
        assert row is not None
        s.expunge_all()
        return row


def pending_ends(env: Env) -> int:
    with env.runtime.db.reader() as s:
        return sum(
            len(
                s.execute(
                    select(m.id).where(m.end_recorded_at.is_(None), m.end_at.is_not(None))
                ).all()
            )
            for m in (Assignment, Eligibility)
        )


def assert_chain_intact(env: Env) -> None:
    """Sequence numbers have no gaps and every hash links to its true predecessor."""
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(audit_events(env), start=1):
        assert event.seq == expected_seq
        assert event.prev_hash == prev
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        assert event.hash == link_hash(prev, fields)
        prev = event.hash
