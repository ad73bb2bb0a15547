"""A role's notification rules: who is emailed about its assignments and activations.

Modelled on Entra PIM's "Notification" tab and Graph's nine `Notification_*` policy rules
(unifiedRoleManagementPolicyNotificationRule): for each of three stages

  stage                what it is about                               Graph rules
  eligible_assignment  an admin makes someone eligible, changes it,   *_Admin_Eligibility
                       removes it (and extend/renew asks about it)
  active_assignment    the same for active assignments                *_Admin_Assignment
  activation           an eligible member activates the role          *_EndUser_Assignment

and each of three recipient types

  admin      the directory's Privileged Role, Security and Global Administrators
  requestor  the member the change is about (the assignee, the one who activates)
  approver   whoever decides a request (the role's approvers, else the PRAs)

a rule says whether the default recipients of that type get the email, which extra addresses
get it too, and at which level: All, Critical (only critical emails, see
`openpim.notifications.role_rules.is_critical` for what "critical" means) or None (nothing, not
even to the extra addresses). Defaults are Entra's: everyone on, level All, no extra addresses.

Before these rules a role had one pair of settings, `notify_default_recipients` and
`notify_extra_recipients`, for the activation alert to the admins: it is the
(activation, admin) rule, and the two names keep working (RoleSettings properties, API fields).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter


class Level(enum.StrEnum):
    """Graph's notificationLevel."""

    ALL = "All"
    CRITICAL = "Critical"
    NONE = "None"


class Stage(enum.StrEnum):
    ELIGIBLE_ASSIGNMENT = "eligible_assignment"
    ACTIVE_ASSIGNMENT = "active_assignment"
    ACTIVATION = "activation"


class RecipientType(enum.StrEnum):
    ADMIN = "admin"
    REQUESTOR = "requestor"
    APPROVER = "approver"


RuleKey = tuple[Stage, RecipientType]
# The nine rules in Entra's order: stage by stage, admin / requestor / approver.
RULE_KEYS: tuple[RuleKey, ...] = tuple(itertools.product(Stage, RecipientType))
RULE_FIELDS = ("default_recipients", "extra_recipients", "level")

STAGE_TITLES = {
    Stage.ELIGIBLE_ASSIGNMENT: "Send notifications when members are assigned as eligible",
    Stage.ACTIVE_ASSIGNMENT: "Send notifications when members are assigned as active",
    Stage.ACTIVATION: "Send notifications when eligible members activate this role",
}
# What each row is called on Entra's Notification tab.
RULE_TITLES: dict[RuleKey, str] = {
    (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.ADMIN): "Role assignment alert",
    (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR): "Notification to the assigned user",
    (
        Stage.ELIGIBLE_ASSIGNMENT,
        RecipientType.APPROVER,
    ): "Request to approve a renewal or extension",
    (Stage.ACTIVE_ASSIGNMENT, RecipientType.ADMIN): "Role assignment alert",
    (Stage.ACTIVE_ASSIGNMENT, RecipientType.REQUESTOR): "Notification to the assigned user",
    (Stage.ACTIVE_ASSIGNMENT, RecipientType.APPROVER): "Request to approve a renewal or extension",
    (Stage.ACTIVATION, RecipientType.ADMIN): "Role activation alert",
    (Stage.ACTIVATION, RecipientType.REQUESTOR): "Notification to the activated user",
    (Stage.ACTIVATION, RecipientType.APPROVER): "Request to approve an activation",
}
_ADMINS = "Privileged Role, Security and Global Administrators"
_PRAS = "Privileged Role Administrators"
# Who "default recipients" are, row by row (notifications/recipients.py sends to them).
DEFAULT_RECIPIENTS: dict[RuleKey, str] = {
    (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.ADMIN): _ADMINS,
    (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR): "the assigned user",
    (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.APPROVER): _PRAS,
    (Stage.ACTIVE_ASSIGNMENT, RecipientType.ADMIN): _ADMINS,
    (Stage.ACTIVE_ASSIGNMENT, RecipientType.REQUESTOR): "the assigned user",
    (Stage.ACTIVE_ASSIGNMENT, RecipientType.APPROVER): _PRAS,
    (Stage.ACTIVATION, RecipientType.ADMIN): _ADMINS,
    (Stage.ACTIVATION, RecipientType.REQUESTOR): "the user who activates",
    (Stage.ACTIVATION, RecipientType.APPROVER): f"the role's approvers (none named: {_PRAS})",
}


@dataclass(frozen=True)
class NotificationRule:
    default_recipients: bool = True
    extra_recipients: tuple[str, ...] = ()
    level: Level = Level.ALL

    def as_json(self) -> dict[str, Any]:
        return {
            "default_recipients": self.default_recipients,
            "extra_recipients": list(self.extra_recipients),
            "level": self.level.value,
        }


_DEFAULT_RULE = NotificationRule()


@dataclass(frozen=True)
class NotificationRules:
    """The nine rules, in RULE_KEYS order (a tuple, so the value is hashable and comparable)."""

    rules: tuple[NotificationRule, ...] = (_DEFAULT_RULE,) * len(RULE_KEYS)

    def __post_init__(self) -> None:
        if len(self.rules) != len(RULE_KEYS):
            raise ValueError(f"expected {len(RULE_KEYS)} notification rules")

    def get(self, stage: Stage, recipient: RecipientType) -> NotificationRule:
        return self.rules[RULE_KEYS.index((stage, recipient))]

    def items(self) -> Iterator[tuple[RuleKey, NotificationRule]]:
        return zip(RULE_KEYS, self.rules, strict=True)

    def with_changes(self, changes: Mapping[RuleKey, Mapping[str, Any]]) -> NotificationRules:
        """These rules with some fields of some rules replaced (values already validated)."""
        return NotificationRules(
            tuple(
                replace(rule, **changes[key]) if key in changes else rule
                for key, rule in self.items()
            )
        )

    def as_json(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (stage, recipient), rule in self.items():
            out.setdefault(stage.value, {})[recipient.value] = rule.as_json()
        return out

    @classmethod
    def from_json(cls, data: Any) -> NotificationRules:
        """From the stored JSON (as_json's shape), validated; a missing rule is a default one."""
        stored = _STORED.validate_python(data)
        return cls(
            tuple(_rule(stored.get(stage, {}).get(recipient)) for stage, recipient in RULE_KEYS)
        )

    @classmethod
    def from_legacy(cls, default_recipients: bool, extra_recipients: Any) -> NotificationRules:
        """Rules of a row written before the nine rules: its one pair is (activation, admin)."""
        legacy = {
            "default_recipients": bool(default_recipients),
            "extra_recipients": tuple(str(v) for v in extra_recipients or ()),
        }
        return cls().with_changes({(Stage.ACTIVATION, RecipientType.ADMIN): legacy})


class _StoredRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_recipients: bool = True
    extra_recipients: list[str] = []
    level: Level = Level.ALL


_STORED = TypeAdapter(dict[Stage, dict[RecipientType, _StoredRule]])


def _rule(stored: _StoredRule | None) -> NotificationRule:
    if stored is None:
        return _DEFAULT_RULE
    return NotificationRule(
        default_recipients=stored.default_recipients,
        extra_recipients=tuple(stored.extra_recipients),
        level=stored.level,
    )


def parse_level(value: Any) -> Level | None:
    """A level from text in any case ("all", "Critical", "NONE"); None when it is not one."""
    if isinstance(value, Level):
        return value
    if not isinstance(value, str):
        return None
    wanted = value.strip().casefold()
    return next((level for level in Level if level.value.casefold() == wanted), None)
