from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class RoleDefinition(UUIDPrimaryKey, Base):
    """A role. Built-in roles use Microsoft's template id as their id and have no directory."""

    __tablename__ = "role_definitions"

    directory_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("directories.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_built_in: Mapped[bool] = mapped_column(default=False)
    # Highly privileged roles: MFA on activation can never be switched off.
    mfa_always_required: Mapped[bool] = mapped_column(default=False)
    # Shown by the security wizard and the dashboard as a privileged role.
    is_privileged: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
