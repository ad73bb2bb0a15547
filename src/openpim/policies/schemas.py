"""API shapes of role settings. Durations travel as ISO-8601 strings ("PT8H"), never bare numbers.

Bounds live in policies/validation.py (every change passes them in policies/service.py) so the
API, the web pages and the CLI refuse the same values with the same error codes; these models
only check types and refuse unknown fields.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt

from openpim.kit.durations import format_duration
from openpim.policies.notification_rules import Level, NotificationRule, NotificationRules
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


class NotificationRuleOut(BaseModel):
    # Email the default recipients of this type (admins, the member, the approvers).
    default_recipients: bool
    extra_recipients: list[str]
    # All, Critical (critical emails only) or None (no email to this type, extras included).
    level: Level

    @classmethod
    def from_rule(cls, rule: NotificationRule) -> NotificationRuleOut:
        return cls(
            default_recipients=rule.default_recipients,
            extra_recipients=list(rule.extra_recipients),
            level=rule.level,
        )


class NotificationRuleSetOut(BaseModel):
    admin: NotificationRuleOut
    requestor: NotificationRuleOut
    approver: NotificationRuleOut


class NotificationRulesOut(BaseModel):
    """Graph's nine Notification_* rules: eligible_assignment = Admin_Eligibility,
    active_assignment = Admin_Assignment, activation = EndUser_Assignment."""

    eligible_assignment: NotificationRuleSetOut
    active_assignment: NotificationRuleSetOut
    activation: NotificationRuleSetOut

    @classmethod
    def from_rules(cls, rules: NotificationRules) -> NotificationRulesOut:
        out: dict[str, dict[str, NotificationRuleOut]] = {}
        for (stage, recipient), rule in rules.items():
            out.setdefault(stage.value, {})[recipient.value] = NotificationRuleOut.from_rule(rule)
        return cls.model_validate(out)


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
    # The (activation, admin) rule of notification_rules, under its names from before the rules.
    notify_default_recipients: bool
    notify_extra_recipients: list[str]
    notification_rules: NotificationRulesOut
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
            notification_rules=NotificationRulesOut.from_rules(settings.notification_rules),
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


class NotificationRuleUpdate(BaseModel):
    """Omitted (or null) fields keep their value. The service checks addresses and levels."""

    model_config = ConfigDict(extra="forbid")

    default_recipients: bool | None = None
    extra_recipients: list[str] | None = None
    level: str | None = None


class NotificationRuleSetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin: NotificationRuleUpdate | None = None
    requestor: NotificationRuleUpdate | None = None
    approver: NotificationRuleUpdate | None = None


class NotificationRulesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eligible_assignment: NotificationRuleSetUpdate | None = None
    active_assignment: NotificationRuleSetUpdate | None = None
    activation: NotificationRuleSetUpdate | None = None


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
    notification_rules: NotificationRulesUpdate | None = None
    eligible_allow_permanent: bool | None = None
    eligible_max_days: StrictInt | None = None
    active_allow_permanent: bool | None = None
    active_max_days: StrictInt | None = None
    require_mfa_on_active_assignment: bool | None = None
    require_justification_on_active_assignment: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, by RoleSettings field name; notification_rules as a
        nested dict of the rule fields set ({stage: {recipient type: {field: value}}})."""
        out = {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None
        }
        if self.notification_rules is not None:
            out["notification_rules"] = self.notification_rules.model_dump(exclude_none=True)
        return out
