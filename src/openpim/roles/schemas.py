"""API shapes of the role catalog. Unknown fields are refused so a typo is an error, not a no-op."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from openpim.roles.service import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH


class RoleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    display_name: str
    description: str
    is_built_in: bool
    is_privileged: bool
    # Highly privileged: MFA on activation is always required and cannot be switched off.
    mfa_always_required: bool
    # None for built-in roles, which every directory shares.
    directory_id: uuid.UUID | None
    created_at: datetime


class RoleListOut(BaseModel):
    value: list[RoleOut]


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)


class RoleRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)
