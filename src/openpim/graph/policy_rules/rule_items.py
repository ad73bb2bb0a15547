"""RoleSettings rendered as the 17 rules of the role's policy."""

from __future__ import annotations

from datetime import timedelta

from openpim.graph.policy_rules.catalogue import (
    APPROVAL,
    AUTH_CONTEXT,
    ENABLEMENT,
    EXPIRATION,
    JUSTIFICATION,
    MFA,
    RULES,
    SINGLE_USER,
    TICKETING,
    RuleSpec,
    notification_key,
)
from openpim.graph.query import Field, Fields
from openpim.graph.shapes import Item
from openpim.graph.values import format_duration
from openpim.policies.settings import RoleSettings

RULE_FIELDS: Fields = {
    "id": Field("string"),
    "target/caller": Field("string"),
    "target/level": Field("string"),
}


def _days(days: int) -> str:
    return f"P{days}D"


def _enabled(settings: RoleSettings, spec: RuleSpec) -> list[str]:
    flags: tuple[tuple[str, bool], ...]
    if spec.caller == "EndUser":
        flags = (
            (MFA, settings.require_mfa_on_activation),
            (JUSTIFICATION, settings.require_justification_on_activation),
            (TICKETING, settings.require_ticket_on_activation),
        )
    elif spec.level == "Assignment":
        flags = (
            (MFA, settings.require_mfa_on_active_assignment),
            (JUSTIFICATION, settings.require_justification_on_active_assignment),
        )
    else:
        flags = ()
    return [name for name, on in flags if on]


def _approval_setting(settings: RoleSettings, timeout: timedelta) -> Item:
    return {
        "isApprovalRequired": settings.require_approval_on_activation,
        "isApprovalRequiredForExtension": False,
        "isRequestorJustificationRequired": settings.require_justification_on_activation,
        "approvalMode": "SingleStage",
        "approvalStages": [
            {
                "approvalStageTimeOutInDays": max(1, round(timeout / timedelta(days=1))),
                "isApproverJustificationRequired": True,
                "escalationTimeInMinutes": 0,
                "isEscalationEnabled": False,
                "primaryApprovers": [
                    {"@odata.type": SINGLE_USER, "userId": str(a), "description": None}
                    for a in settings.approver_ids
                ],
                "escalationApprovers": [],
            }
        ],
    }


def rule(settings: RoleSettings, spec: RuleSpec, approval_timeout: timedelta) -> Item:
    out: Item = {
        "@odata.type": spec.odata_type,
        "id": spec.id,
        "target": {
            "caller": spec.caller,
            "operations": ["all"],
            "level": spec.level,
            "inheritableSettings": [],
            "enforcedSettings": [],
        },
    }
    if spec.odata_type == EXPIRATION:
        if spec.caller == "EndUser":
            out["isExpirationRequired"] = True
            out["maximumDuration"] = format_duration(settings.activation_max_duration)
        elif spec.level == "Eligibility":
            out["isExpirationRequired"] = not settings.eligible_allow_permanent
            out["maximumDuration"] = _days(settings.eligible_max_days)
        else:
            out["isExpirationRequired"] = not settings.active_allow_permanent
            out["maximumDuration"] = _days(settings.active_max_days)
    elif spec.odata_type == ENABLEMENT:
        out["enabledRules"] = _enabled(settings, spec)
    elif spec.odata_type == APPROVAL:
        out["setting"] = _approval_setting(settings, approval_timeout)
    elif spec.odata_type == AUTH_CONTEXT:
        out["isEnabled"] = False
        out["claimValue"] = None
    else:
        setting = settings.notification_rules.get(*notification_key(spec))
        out["notificationType"] = "Email"
        out["recipientType"] = spec.recipient
        out["notificationLevel"] = setting.level.value
        out["isDefaultRecipientsEnabled"] = setting.default_recipients
        out["notificationRecipients"] = list(setting.extra_recipients)
    return out


def rules(settings: RoleSettings, approval_timeout: timedelta) -> list[Item]:
    return [rule(settings, spec, approval_timeout) for spec in RULES]
