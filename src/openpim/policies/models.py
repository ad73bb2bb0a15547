from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class RolePolicy(UUIDPrimaryKey, Base):
    """Stored settings of a role in a directory. A role without a row uses the defaults."""

    __tablename__ = "role_policies"
    __table_args__ = (UniqueConstraint("directory_id", "role_id"),)

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("role_definitions.id"), index=True)
    activation_max_seconds: Mapped[int]
    require_mfa_on_activation: Mapped[bool]
    require_justification_on_activation: Mapped[bool]
    require_ticket_on_activation: Mapped[bool]
    require_approval_on_activation: Mapped[bool]
    approver_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The (activation, admin) notification rule, as before the nine rules; kept in step with
    # notification_rules, which is read instead when it is set.
    notify_default_recipients: Mapped[bool]
    notify_extra_recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The nine notification rules (policies/notification_rules.py, NotificationRules.as_json);
    # NULL on rows written before them: read as the two columns above plus defaults.
    notification_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    eligible_allow_permanent: Mapped[bool]
    eligible_max_days: Mapped[int]
    active_allow_permanent: Mapped[bool]
    active_max_days: Mapped[int]
    require_mfa_on_active_assignment: Mapped[bool]
    require_justification_on_active_assignment: Mapped[bool]
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
