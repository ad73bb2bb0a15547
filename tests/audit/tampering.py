"""What someone with write access to the database can do to the audit history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from openpim.audit.chain import GENESIS_HASH, HASHED_FIELDS, link_hash
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.audit.writer import CHAIN_HEAD_ID
from tests.factories import Env


def rewrite_from(env: Env, seq: int, **changes: Any) -> None:
    """Change event `seq`, then recompute every hash after it and move the head: the chain
    alone verifies again (only anchors recorded elsewhere can tell)."""
    with env.runtime.db.unit_of_work() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
        ).all()
        prev = events[0].prev_hash if seq > 1 else GENESIS_HASH
        for name, value in changes.items():
            setattr(events[0], name, value)
        for event in events:
            event.prev_hash = prev
            event.hash = prev = link_hash(prev, {f: getattr(event, f) for f in HASHED_FIELDS})
        session.execute(
            update(AuditChainHead).where(AuditChainHead.id == CHAIN_HEAD_ID).values(last_hash=prev)
        )
