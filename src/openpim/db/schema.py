"""Schema set-up for a fresh database: Alembic upgrade plus the data every install needs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpim.audit.chain import GENESIS_HASH
from openpim.audit.models import AuditChainHead
from openpim.audit.writer import CHAIN_HEAD_ID
from openpim.roles.catalog import ensure_built_in_roles


def ensure_reference_data(session: Session, now: datetime) -> None:
    """Built-in roles and the audit chain head. Idempotent: safe on every start."""
    ensure_built_in_roles(session, now)
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == CHAIN_HEAD_ID)
    ).scalar_one_or_none()
    if head is None:
        session.add(AuditChainHead(id=CHAIN_HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))
    session.flush()
