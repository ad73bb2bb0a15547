"""API shapes for directories and users. Secrets (password hash, TOTP secret) never go out."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from openpim.directory.models import Directory, VerifiedDomain


class DirectoryCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    domains: list[str] = Field(default_factory=list, max_length=100)


class DomainCreate(BaseModel):
    domain: str = Field(min_length=1, max_length=253, examples=["contoso.com"])


class DomainOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    domain: str
    created_at: datetime


class DirectoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    pim_enabled_at: datetime | None
    wizard_completed_at: datetime | None
    domains: list[str] = Field(default_factory=list)

    @classmethod
    def build(cls, directory: Directory, domains: list[VerifiedDomain]) -> DirectoryOut:
        out = cls.model_validate(directory)
        out.domains = [d.domain for d in domains]
        return out


class UserCreate(BaseModel):
    user_principal_name: str = Field(min_length=3, max_length=320, examples=["alice@contoso.com"])
    display_name: str = Field(min_length=1, max_length=256)
    # Optional: an account without one cannot sign in until an administrator sets it.
    password: SecretStr | None = Field(default=None, max_length=1024)


class PasswordSet(BaseModel):
    password: SecretStr = Field(max_length=1024)


class UserOut(BaseModel):
    """A user as others may see it: no password hash, no TOTP secret, only whether enrolled."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    directory_id: uuid.UUID
    user_principal_name: str
    display_name: str
    account_kind: str
    enabled: bool
    mfa_enrolled: bool
    last_sign_in_at: datetime | None
    created_at: datetime
    disabled_at: datetime | None


class UserPageOut(BaseModel):
    items: list[UserOut]
    # Pass back as `after` for the next page; null on the last page.
    next_after: str | None


class BootstrapRequest(BaseModel):
    directory_name: str = Field(min_length=1, max_length=200)
    domain: str = Field(min_length=1, max_length=253)
    admin_user_principal_name: str = Field(min_length=3, max_length=320)
    admin_display_name: str = Field(min_length=1, max_length=256)
    admin_password: SecretStr = Field(max_length=1024)


class BootstrapOut(BaseModel):
    directory: DirectoryOut
    admin: UserOut
    # Shown once: the administrator adds it to an authenticator app now.
    totp_secret: str
    otpauth_uri: str
