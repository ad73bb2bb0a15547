"""Shapes of notification channels and the delivery log at the edges (API, CLI).

Secrets (SMTP password, webhook secret, webhook URL) are write-only: inputs accept them, no
output ever carries them back; outputs say whether one is set.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Security(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class WebhookFormat(StrEnum):
    GENERIC = "generic"
    SLACK = "slack"
    TEAMS = "teams"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first try or a retry
    SENDING = "sending"  # claimed by a worker right now
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up; can be retried by hand


class EmailChannelIn(BaseModel):
    """The SMTP relay. Leave `password` out to keep the stored one; send null to remove it."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    security: Security = Security.STARTTLS
    username: str | None = Field(default=None, max_length=320)
    password: SecretStr | None = Field(default=None, max_length=512)
    from_address: str = Field(min_length=3, max_length=320)


class EmailChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    directory_id: uuid.UUID
    enabled: bool
    host: str
    port: int
    security: Security
    username: str | None
    password_set: bool
    from_address: str
    updated_at: datetime
    updated_by: str


class WebhookIn(BaseModel):
    """A new webhook. Without `secret` the server makes one and shows it once."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    url: SecretStr = Field(max_length=2048)
    format: WebhookFormat = WebhookFormat.GENERIC
    secret: SecretStr | None = Field(default=None, max_length=256)
    enabled: bool = True
    event_types: list[str] = Field(default_factory=list, max_length=100)


class WebhookUpdate(BaseModel):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: SecretStr | None = Field(default=None, max_length=2048)
    format: WebhookFormat | None = None
    secret: SecretStr | None = Field(default=None, max_length=256)
    enabled: bool | None = None
    event_types: list[str] | None = Field(default=None, max_length=100)


class WebhookOut(BaseModel):
    id: uuid.UUID
    directory_id: uuid.UUID
    name: str
    url: str = Field(description="Redacted: scheme, host and the start of the path")
    format: WebhookFormat
    enabled: bool
    event_types: list[str]
    secret_set: bool = True
    created_at: datetime
    updated_at: datetime
    updated_by: str


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        default=None,
        description="Only when the server generated the secret: shown this once, never again",
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    error: str | None
    status_code: int | None


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="Stable: the Message-ID or X-OpenPIM-Delivery header")
    outbox_id: uuid.UUID
    event_type: str
    channel: str
    recipient: str
    status: DeliveryStatus
    subject: str | None
    attempts: int
    created_at: datetime
    available_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class NotificationSettingsOut(BaseModel):
    """Everything the portal's notification settings page shows."""

    email: EmailChannelOut | None
    webhooks: list[WebhookOut]


class TestMessageIn(BaseModel):
    """Send a test message to one address through the email channel, or to one webhook."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    webhook_id: uuid.UUID | None = None


class QueuedOut(BaseModel):
    event_id: uuid.UUID


class RetriedOut(BaseModel):
    retried: int


class DeadEventOut(BaseModel):
    id: uuid.UUID
    event_type: str
    created_at: datetime
    attempts: int
    last_error: str | None
    dead_at: datetime | None


class DeadEventListOut(BaseModel):
    value: list[DeadEventOut]
