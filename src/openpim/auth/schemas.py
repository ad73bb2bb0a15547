"""API shapes for sign-in, sessions, API tokens and TOTP enrolment."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from openpim.auth.models import AuthToken
from openpim.directory.schemas import UserOut


class SignInRequest(BaseModel):
    user_principal_name: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(max_length=1024)
    totp_code: str | None = Field(default=None, max_length=16)
    # Needed only when the same external name exists in several directories.
    directory_id: uuid.UUID | None = None


class TokenOut(BaseModel):
    """A session or API token as listed; the raw token is never part of it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Literal["session", "api"]
    name: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    mfa_verified_at: datetime | None
    client_address: str | None


class SignInResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type name)
    expires_at: datetime | None
    mfa_verified: bool
    session: TokenOut
    user: UserOut

    @classmethod
    def build(cls, raw_token: str, token: AuthToken, user: UserOut) -> SignInResponse:
        return cls(
            access_token=raw_token,
            expires_at=token.expires_at,
            mfa_verified=token.mfa_verified_at is not None,
            session=TokenOut.model_validate(token),
            user=user,
        )


class StepUpRequest(BaseModel):
    totp_code: str = Field(min_length=1, max_length=16)


class ApiTokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    expires_at: datetime | None = None


class ApiTokenCreated(BaseModel):
    # Shown once; only its hash is stored.
    token: str
    details: TokenOut


class TotpEnrollmentOut(BaseModel):
    # Shown once, when enrolment begins.
    secret: str
    otpauth_uri: str


class TotpConfirmRequest(BaseModel):
    code: str = Field(min_length=1, max_length=16)
