"""Notifications: outbox events, the channels they go out on, and every delivery and attempt.

An outbox row is written with the change it announces. The worker expands it once into one
delivery per recipient address and per webhook (the fan-out), each retried on its own, so a
failing webhook never re-sends an email that already went out.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey

_UNDONE = "delivered_at IS NULL AND dead_at IS NULL"


class OutboxMessage(UUIDPrimaryKey, Base):
    """An event that needs announcing. Written with the change; delivered after commit.

    `delivered_at` is set when the event has been expanded into its deliveries; `content`
    keeps what was rendered then, so every retry sends the very same message.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index(
            "ix_outbox_messages_due",
            "available_at",
            sqlite_where=text(_UNDONE),
            postgresql_where=text(_UNDONE),
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
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Recipient counts, truncation and skipped channels: what the fan-out decided and why.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EmailChannel(UUIDPrimaryKey, Base):
    """The SMTP relay a directory's notification emails go through (one per directory)."""

    __tablename__ = "notification_email_channels"
    __table_args__ = (UniqueConstraint("directory_id"),)

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    enabled: Mapped[bool] = mapped_column(default=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int]
    security: Mapped[str] = mapped_column(String(16))
    username: Mapped[str | None] = mapped_column(String(320))
    # Sealed with the server's secret key (see crypto.py); never returned by any read.
    password_sealed: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by_label: Mapped[str] = mapped_column(String(320))


class WebhookChannel(UUIDPrimaryKey, Base):
    """An HTTP endpoint that receives every event of a directory (or the types it lists)."""

    __tablename__ = "notification_webhooks"
    __table_args__ = (UniqueConstraint("directory_id", "name"),)

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    name: Mapped[str] = mapped_column(String(100))
    # Chat webhook URLs carry their credential in the path (Slack, Teams), so the URL is
    # sealed like the secret; readers only see the redacted form.
    url_sealed: Mapped[str] = mapped_column(Text)
    url_display: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(16))
    secret_sealed: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Event types (or "prefix.*") this webhook wants; empty means all.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by_label: Mapped[str] = mapped_column(String(320))


class Delivery(UUIDPrimaryKey, Base):
    """One message to one address or webhook. Its id is stable (derived from the outbox row
    and the recipient), and is what the receiver sees as Message-ID or X-OpenPIM-Delivery."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_id", "channel", "recipient"),
        Index(
            "ix_notification_deliveries_due",
            "available_at",
            sqlite_where=text(_UNDONE),
            postgresql_where=text(_UNDONE),
        ),
        Index("ix_notification_deliveries_directory", "directory_id", "created_at"),
    )

    outbox_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_messages.id"))
    directory_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    # An email address, or the webhook's id.
    recipient: Mapped[str] = mapped_column(String(320))
    # No foreign key: a removed webhook's deliveries stay in the log.
    webhook_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    # A worker's claim: until this instant no other worker takes the row. A worker that dies
    # mid-send leaves the lease to run out, and the row is sent again under the same id.
    locked_until: Mapped[datetime | None]
    claim_token: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]


class DeliveryAttempt(UUIDPrimaryKey, Base):
    """One try at a delivery: written when claimed ("sending"), finished with its outcome."""

    __tablename__ = "notification_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_deliveries.id"), index=True
    )
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))
    claim_token: Mapped[uuid.UUID]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # sending | delivered | failed | dead | abandoned (lease ran out) | released (not tried)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[int | None]


class NotificationMarker(Base):
    """Keys of periodic notifications already queued (weekly digests): each exactly once."""

    __tablename__ = "notification_markers"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime]
    outbox_id: Mapped[uuid.UUID | None]


class ExpiryReminder(Base):
    """A reminder queued for one schedule, threshold and end date. A schedule extended to a
    new end date gets its reminders again; the same one is never queued twice."""

    __tablename__ = "notification_expiry_reminders"

    schedule_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    threshold_days: Mapped[int] = mapped_column(primary_key=True)
    end_at: Mapped[datetime] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    outbox_id: Mapped[uuid.UUID | None]
