"""API shapes of role settings. Durations travel as ISO-8601 strings ("PT8H"), never bare numbers.

Bounds live in the service (policies/service.py) so the API, the web pages and the CLI refuse the
same values with the same error codes; these models only check types and refuse unknown fields.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt

from openpim.kit.durations import format_duration
from openpim.policies.settings import RoleSettings


def _iso_duration(value: Any) -> Any:
    # A bare number would be read as seconds by pydantic; its unit is a guess, so refuse it.
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        text = value.strip().upper()
        unsigned = text.lstrip("+-")
        if unsigned.startswith("P"):
            # Years and months have no fixed length; pydantic would silently take 365/30 days.
            date_part = unsigned[1:].split("T", 1)[0]
            if "Y" in date_part or "M" in date_part:
                raise ValueError("years and months are not fixed durations; use days or hours")
            return text
    raise ValueError("must be an ISO-8601 duration such as PT4H or PT90M")


IsoDuration = Annotated[timedelta, BeforeValidator(_iso_duration)]


class RoleSettingsOut(BaseModel):
    role_id: uuid.UUID
    directory_id: uuid.UUID
    activation_max_duration: str
    require_mfa_on_activation: bool
    require_justification_on_activation: bool
    require_ticket_on_activation: bool
    require_approval_on_activation: bool
    # Empty with approval on: the directory's Privileged Role Administrators approve.
    approver_ids: list[uuid.UUID]
    notify_default_recipients: bool
    notify_extra_recipients: list[str]
    eligible_allow_permanent: bool
    eligible_max_days: int
    active_allow_permanent: bool
    active_max_days: int
    require_mfa_on_active_assignment: bool
    require_justification_on_active_assignment: bool
    # True for highly privileged roles: require_mfa_on_activation cannot be switched off.
    mfa_locked: bool
    # True while the role has never been configured and runs on the defaults.
    is_default: bool

    @classmethod
    def from_settings(cls, settings: RoleSettings) -> RoleSettingsOut:
        return cls(
            role_id=settings.role_id,
            directory_id=settings.directory_id,
            activation_max_duration=format_duration(settings.activation_max_duration),
            require_mfa_on_activation=settings.require_mfa_on_activation,
            require_justification_on_activation=settings.require_justification_on_activation,
            require_ticket_on_activation=settings.require_ticket_on_activation,
            require_approval_on_activation=settings.require_approval_on_activation,
            approver_ids=list(settings.approver_ids),
            notify_default_recipients=settings.notify_default_recipients,
            notify_extra_recipients=list(settings.notify_extra_recipients),
            eligible_allow_permanent=settings.eligible_allow_permanent,
            eligible_max_days=settings.eligible_max_days,
            active_allow_permanent=settings.active_allow_permanent,
            active_max_days=settings.active_max_days,
            require_mfa_on_active_assignment=settings.require_mfa_on_active_assignment,
            require_justification_on_active_assignment=(
                settings.require_justification_on_active_assignment
            ),
            mfa_locked=settings.mfa_locked,
            is_default=settings.is_default,
        )


class RoleSettingsListOut(BaseModel):
    value: list[RoleSettingsOut]


class RoleSettingsUpdate(BaseModel):
    """A partial update: omitted (or null) fields keep their current value."""

    model_config = ConfigDict(extra="forbid")

    activation_max_duration: IsoDuration | None = None
    require_mfa_on_activation: bool | None = None
    require_justification_on_activation: bool | None = None
    require_ticket_on_activation: bool | None = None
    require_approval_on_activation: bool | None = None
    approver_ids: list[uuid.UUID] | None = None
    notify_default_recipients: bool | None = None
    notify_extra_recipients: list[str] | None = None
    eligible_allow_permanent: bool | None = None
    eligible_max_days: StrictInt | None = None
    active_allow_permanent: bool | None = None
    active_max_days: StrictInt | None = None
    require_mfa_on_active_assignment: bool | None = None
    require_justification_on_active_assignment: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, by RoleSettings field name."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None
        }
