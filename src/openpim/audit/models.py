from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base


class AuditEvent(Base):
    """One line of history. Append-only; each row hashes its predecessor's hash and itself."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_directory_time", "directory_id", "occurred_at", "seq"),
        Index("ix_audit_events_target_time", "target_user_id", "occurred_at", "seq"),
        Index("ix_audit_events_actor_time", "actor_id", "occurred_at", "seq"),
        Index("ix_audit_events_role_time", "role_id", "occurred_at", "seq"),
        Index("ix_audit_events_action_time", "action", "occurred_at", "seq"),
        # Refusals are rare among millions of events: a small index finds them at once.
        Index(
            "ix_audit_events_failures",
            "occurred_at",
            "seq",
            sqlite_where=text("result = 'failure'"),
            postgresql_where=text("result = 'failure'"),
        ),
        # Activations per day and role (dashboard, audit charts) from the index alone: a
        # month is ~100,000 activations in the benchmark year, counted without the table.
        # `action` too: SQLite counts an index as covering only if it holds every column the
        # query names, the partial index's own condition included.
        Index(
            "ix_audit_events_activations",
            "directory_id",
            "occurred_at",
            "role_id",
            "action",
            sqlite_where=text("action = 'activation.activated'"),
            postgresql_where=text("action = 'activation.activated'"),
        ),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger,
        primary_key=True,
        autoincrement=False,
    )
    occurred_at: Mapped[datetime]
    directory_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    target_user_id: Mapped[uuid.UUID | None]
    target_label: Mapped[str | None] = mapped_column(String(320))
    role_id: Mapped[uuid.UUID | None]
    role_label: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[uuid.UUID | None]
    schedule_id: Mapped[uuid.UUID | None]
    justification: Mapped[str | None] = mapped_column(Text)
    ticket_number: Mapped[str | None] = mapped_column(String(200))
    ticket_system: Mapped[str | None] = mapped_column(String(200))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(64))
    http_request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row every audit writer locks: it serialises sequence numbers and hashes."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
