"""Writes audit events inside the caller's transaction.

The chain head row is locked (FOR UPDATE on PostgreSQL; SQLite write units already hold the
database lock), so sequence numbers have no gaps and each hash links to the true predecessor.
If the surrounding transaction rolls back, the event goes with it: a change and its audit
record exist together or not at all.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from openpim.audit.chain import GENESIS_HASH, link_hash
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.kit.context import Ctx

CHAIN_HEAD_ID = 1


@dataclass
class AuditEntry:
    """What an operation says about itself; the writer adds actor, time, chain and request."""

    action: str
    result: str = "success"
    directory_id: uuid.UUID | None = None
    target_user_id: uuid.UUID | None = None
    target_label: str | None = None
    role_id: uuid.UUID | None = None
    role_label: str | None = None
    request_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None
    justification: str | None = None
    ticket_number: str | None = None
    ticket_system: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    actor_id: uuid.UUID | None = None
    actor_label: str | None = None


def _lock_head(ctx: Ctx) -> AuditChainHead:
    head = ctx.session.execute(
        select(AuditChainHead).where(AuditChainHead.id == CHAIN_HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(id=CHAIN_HEAD_ID, last_seq=0, last_hash=GENESIS_HASH)
        ctx.session.add(head)
        ctx.session.flush()
    return head


def record(ctx: Ctx, entry: AuditEntry) -> AuditEvent:
    return record_many(ctx, [entry])[0]


def record_many(ctx: Ctx, entries: list[AuditEntry]) -> list[AuditEvent]:
    if not entries:
        return []
    # Flush pending changes first so a failing change fails before the chain head is locked.
    ctx.session.flush()
    head = _lock_head(ctx)
    seq, prev = head.last_seq, head.last_hash
    events: list[AuditEvent] = []
    for entry in entries:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq,
            "occurred_at": entry.occurred_at or ctx.now,
            "directory_id": entry.directory_id or ctx.actor.directory_id,
            "actor_id": entry.actor_id if entry.actor_label else ctx.actor.user_id,
            "actor_label": entry.actor_label or ctx.actor.label,
            "action": entry.action,
            "result": entry.result,
            "target_user_id": entry.target_user_id,
            "target_label": entry.target_label,
            "role_id": entry.role_id,
            "role_label": entry.role_label,
            "request_id": entry.request_id,
            "schedule_id": entry.schedule_id,
            "justification": entry.justification,
            "ticket_number": entry.ticket_number,
            "ticket_system": entry.ticket_system,
            "start_at": entry.start_at,
            "end_at": entry.end_at,
            "detail": json.dumps(entry.detail, sort_keys=True, default=str)
            if entry.detail
            else None,
            "client_address": ctx.client_address,
            "http_request_id": ctx.request_id,
        }
        digest = link_hash(prev, fields)
        events.append(AuditEvent(**fields, prev_hash=prev, hash=digest))
        prev = digest
    head.last_seq, head.last_hash = seq, prev
    ctx.session.add_all(events)
    ctx.session.flush()
    return events
