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
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from openpim.audit.chain import GENESIS_HASH, link_hash
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.db import direct
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


_events = cast(Table, AuditEvent.__table__)
_head = cast(Table, AuditChainHead.__table__)
_LOCK_HEAD = (
    select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == CHAIN_HEAD_ID).with_for_update()
)
_START_CHAIN = insert(_head).values(id=CHAIN_HEAD_ID, last_seq=0, last_hash=GENESIS_HASH)
_INSERT_EVENTS = insert(_events)
_MOVE_HEAD = (
    update(_head)
    .where(_head.c.id == CHAIN_HEAD_ID)
    .values(last_seq=bindparam("seq"), last_hash=bindparam("hash"))
)


def _lock_head(conn: Connection) -> tuple[int, str]:
    """The chain's last (seq, hash), the head row locked until the transaction ends."""
    head = direct.first(conn, _LOCK_HEAD, {})
    if head is None:
        direct.execute(conn, _START_CHAIN, {})
        return 0, GENESIS_HASH
    return int(head.last_seq), str(head.last_hash)


class Link(NamedTuple):
    """Where a written event sits in the chain."""

    seq: int
    prev_hash: str
    hash: str


def record(ctx: Ctx, entry: AuditEntry) -> Link:
    return record_many(ctx, [entry])[0]


def record_many(ctx: Ctx, entries: list[AuditEntry]) -> list[Link]:
    """Append `entries` to the chain in the caller's transaction; returns their chain links.

    Core statements on the driver connection (db.direct) rather than the ORM unit of work: an
    audit row is written once and never loaded back in the same transaction, and SQLAlchemy's
    execution machinery cost more than the statements themselves on the activation path.
    """
    if not entries:
        return []
    # Flush pending changes first so a failing change fails before the chain head is locked.
    ctx.session.flush()
    conn = ctx.session.connection()
    seq, prev = _lock_head(conn)
    rows: list[dict[str, Any]] = []
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
        rows.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    direct.execute(conn, _INSERT_EVENTS, rows if len(rows) > 1 else rows[0])
    direct.execute(conn, _MOVE_HEAD, {"seq": seq, "hash": prev})
    return [Link(row["seq"], row["prev_hash"], row["hash"]) for row in rows]
