from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class AuthToken(UUIDPrimaryKey, Base):
    """A bearer credential: a sign-in session or a personal API token. Only its hash is kept."""

    __tablename__ = "auth_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "session" | "api"
    name: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # When this sign-in session last proved MFA with a TOTP code. Never set on API tokens.
    mfa_verified_at: Mapped[datetime | None]
    client_address: Mapped[str | None] = mapped_column(String(64))


class AuthFailure(UUIDPrimaryKey, Base):
    """A failed sign-in or TOTP attempt, counted by the rate limiter across processes."""

    __tablename__ = "auth_failures"
    __table_args__ = (
        Index("ix_auth_failures_user_at", "user_id", "at"),
        Index("ix_auth_failures_address_at", "address", "at"),
    )

    at: Mapped[datetime]
    user_id: Mapped[uuid.UUID | None]
    address: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
