from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class OutboxMessage(UUIDPrimaryKey, Base):
    """An event that needs announcing. Written with the change; delivered after commit."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index(
            "ix_outbox_messages_due",
            "available_at",
            sqlite_where=text("delivered_at IS NULL AND dead_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL AND dead_at IS NULL"),
        ),
    )

    directory_id: Mapped[uuid.UUID | None]
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
