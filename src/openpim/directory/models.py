from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class AccountKind(enum.StrEnum):
    ORGANIZATIONAL = "organizational"
    EXTERNAL = "external"


class Directory(UUIDPrimaryKey, Base):
    __tablename__ = "directories"

    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    pim_enabled_at: Mapped[datetime | None]
    # No foreign key: users reference directories, and the cycle is not worth an ALTER.
    pim_enabled_by_id: Mapped[uuid.UUID | None]
    wizard_completed_at: Mapped[datetime | None]


class VerifiedDomain(UUIDPrimaryKey, Base):
    __tablename__ = "verified_domains"
    # A domain proves membership of one directory only.
    __table_args__ = (UniqueConstraint("domain"),)

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime]


class User(UUIDPrimaryKey, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("directory_id", "user_principal_name"),)

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"), index=True)
    user_principal_name: Mapped[str] = mapped_column(String(320), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    account_kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None]
    # A secret being enrolled, not yet confirmed with a code: the current one stays in force
    # until then, so re-enrolment never leaves the account without its second factor.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(255))
    # The last TOTP time step accepted: a code is good once, so replays inside its window fail.
    totp_last_step: Mapped[int | None]
    last_sign_in_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None
