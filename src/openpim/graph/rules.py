"""Role settings as Graph's role management policies and their 17 fixed rules, both ways.

One policy per (directory, role): id "DirectoryRole_{directoryId}_{roleId}", and one policy
assignment "{policyId}_{roleId}". Reading renders RoleSettings as the 17 rules; a PATCH of one
rule becomes a RoleSettingsUpdate for policies.service.update_role_settings, so the bounds, the
MFA lock of highly privileged roles and the audit stay in one place.

A rule property OpenPIM has no setting for is reported with the value OpenPIM behaves by; a
PATCH may repeat that value (so GET-modify-PATCH round trips work) but not change it.

The nine Notification_{Admin|Requestor|Approver}_{Admin_Eligibility|Admin_Assignment|
EndUser_Assignment} rules are the role's notification rules (policies/notification_rules.py):
isDefaultRecipientsEnabled, notificationRecipients and notificationLevel are read and written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from openpim.graph.errors import bad_request
from openpim.graph.query import Field, Fields
from openpim.graph.shapes import NS, TENANT_SCOPE, Item
from openpim.graph.values import format_duration, parse_duration, parse_guid
from openpim.policies.notification_rules import RecipientType, RuleKey, Stage
from openpim.policies.settings import RoleSettings

SCOPE_TYPE = "DirectoryRole"
EXPIRATION = NS + "unifiedRoleManagementPolicyExpirationRule"
ENABLEMENT = NS + "unifiedRoleManagementPolicyEnablementRule"
APPROVAL = NS + "unifiedRoleManagementPolicyApprovalRule"
AUTH_CONTEXT = NS + "unifiedRoleManagementPolicyAuthenticationContextRule"
NOTIFICATION = NS + "unifiedRoleManagementPolicyNotificationRule"
SINGLE_USER = NS + "singleUser"
MFA, JUSTIFICATION, TICKETING = "MultiFactorAuthentication", "Justification", "Ticketing"


@dataclass(frozen=True)
class RuleSpec:
    id: str
    odata_type: str
    caller: str
    level: str
    recipient: str | None = None


def _notifications(caller: str, level: str) -> tuple[RuleSpec, ...]:
    return tuple(
        RuleSpec(f"Notification_{who}_{caller}_{level}", NOTIFICATION, caller, level, who)
        for who in ("Admin", "Requestor", "Approver")
    )


RULES: tuple[RuleSpec, ...] = (
    RuleSpec("Expiration_Admin_Eligibility", EXPIRATION, "Admin", "Eligibility"),
    RuleSpec("Enablement_Admin_Eligibility", ENABLEMENT, "Admin", "Eligibility"),
    *_notifications("Admin", "Eligibility"),
    RuleSpec("Expiration_Admin_Assignment", EXPIRATION, "Admin", "Assignment"),
    RuleSpec("Enablement_Admin_Assignment", ENABLEMENT, "Admin", "Assignment"),
    *_notifications("Admin", "Assignment"),
    RuleSpec("Expiration_EndUser_Assignment", EXPIRATION, "EndUser", "Assignment"),
    RuleSpec("Enablement_EndUser_Assignment", ENABLEMENT, "EndUser", "Assignment"),
    RuleSpec("Approval_EndUser_Assignment", APPROVAL, "EndUser", "Assignment"),
    RuleSpec("AuthenticationContext_EndUser_Assignment", AUTH_CONTEXT, "EndUser", "Assignment"),
    *_notifications("EndUser", "Assignment"),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}
assert len(RULES) == 17

_STAGES = {
    ("Admin", "Eligibility"): Stage.ELIGIBLE_ASSIGNMENT,
    ("Admin", "Assignment"): Stage.ACTIVE_ASSIGNMENT,
    ("EndUser", "Assignment"): Stage.ACTIVATION,
}
_RECIPIENTS = {
    "Admin": RecipientType.ADMIN,
    "Requestor": RecipientType.REQUESTOR,
    "Approver": RecipientType.APPROVER,
}


def notification_key(spec: RuleSpec) -> RuleKey:
    """The role notification rule a Notification_* rule is."""
    return _STAGES[(spec.caller, spec.level)], _RECIPIENTS[str(spec.recipient)]


RULE_FIELDS: Fields = {
    "id": Field("string"),
    "target/caller": Field("string"),
    "target/level": Field("string"),
}
POLICY_FIELDS: Fields = {
    "id": Field("string"),
    "scopeId": Field("string"),
    "scopeType": Field("string"),
    "isOrganizationDefault": Field("bool"),
    "displayName": Field("string"),
}
ASSIGNMENT_FIELDS: Fields = {
    "id": Field("string"),
    "policyId": Field("string"),
    "scopeId": Field("string"),
    "scopeType": Field("string"),
    "roleDefinitionId": Field("string", lower=True),
}


# --- ids --------------------------------------------------------------------------------------


def policy_id(directory_id: uuid.UUID, role_id: uuid.UUID) -> str:
    return f"{SCOPE_TYPE}_{directory_id}_{role_id}"


def parse_policy_id(text: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    parts = text.split("_")
    if len(parts) != 3 or parts[0] != SCOPE_TYPE:
        return None
    try:
        return uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except ValueError:
        return None


def parse_assignment_id(text: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    head, _, role = text.rpartition("_")
    parsed = parse_policy_id(head)
    if parsed is None or role.lower() != str(parsed[1]):
        return None
    return parsed


# --- reading ----------------------------------------------------------------------------------


def policy(settings: RoleSettings) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleManagementPolicy",
        "id": policy_id(settings.directory_id, settings.role_id),
        "displayName": SCOPE_TYPE,
        "description": f"Role settings of role {settings.role_id}",
        "isOrganizationDefault": False,
        "scopeId": TENANT_SCOPE,
        "scopeType": SCOPE_TYPE,
        "lastModifiedDateTime": None,
        "lastModifiedBy": None,
    }


def policy_assignment(settings: RoleSettings) -> Item:
    pid = policy_id(settings.directory_id, settings.role_id)
    return {
        "@odata.type": NS + "unifiedRoleManagementPolicyAssignment",
        "id": f"{pid}_{settings.role_id}",
        "policyId": pid,
        "scopeId": TENANT_SCOPE,
        "scopeType": SCOPE_TYPE,
        "roleDefinitionId": str(settings.role_id),
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


# --- writing ----------------------------------------------------------------------------------


def _fixed(body: Mapping[str, Any], key: str, current: Any) -> None:
    """A property OpenPIM cannot change: it may be repeated, not changed."""
    if key in body and body[key] != current:
        raise bad_request(
            f"{key} cannot be set to {body[key]!r} in OpenPIM (it is always {current!r})."
        )


def _check_envelope(body: Mapping[str, Any], spec: RuleSpec, allowed: set[str]) -> None:
    if body.get("@odata.type") != spec.odata_type:
        raise bad_request(
            f'The body must carry "@odata.type": "{spec.odata_type}" for rule {spec.id}.'
        )
    if "id" in body and body["id"] != spec.id:
        raise bad_request(f"The body's id {body['id']!r} is not the rule's id {spec.id!r}.")
    unknown = sorted(set(body) - allowed - {"@odata.type", "id", "target"})
    if unknown:
        raise bad_request(f"Unknown or read-only properties for {spec.id}: {', '.join(unknown)}.")
    target = body.get("target")
    if target is not None:
        if not isinstance(target, Mapping):
            raise bad_request("target must be an object.")
        for key, value in (("caller", spec.caller), ("level", spec.level)):
            if key in target and str(target[key]).lower() != value.lower():
                raise bad_request(f"target.{key} of {spec.id} is {value}.")


def _bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"{key} must be true or false.")
    return value


def _whole_days(body: Mapping[str, Any], key: str) -> int | None:
    if body.get(key) is None:
        return None
    value = parse_duration(body[key], field=key)
    if value % timedelta(days=1):
        raise bad_request(f"{key} must be a whole number of days here (such as P365D).")
    return value.days


def changes_for(
    spec: RuleSpec, body: Mapping[str, Any], current: RoleSettings, timeout: timedelta
) -> dict[str, Any]:
    """The RoleSettings changes a PATCH of rule `spec` asks for (validated by the service)."""
    reported = rule(current, spec, timeout)
    out: dict[str, Any] = {}
    if spec.odata_type == EXPIRATION:
        _check_envelope(body, spec, {"isExpirationRequired", "maximumDuration"})
        required = _bool(body, "isExpirationRequired")
        if spec.caller == "EndUser":
            _fixed(body, "isExpirationRequired", True)
            if body.get("maximumDuration") is not None:
                duration = parse_duration(body["maximumDuration"], field="maximumDuration")
                out["activation_max_duration"] = duration
        else:
            prefix = "eligible" if spec.level == "Eligibility" else "active"
            if required is not None:
                out[f"{prefix}_allow_permanent"] = not required
            days = _whole_days(body, "maximumDuration")
            if days is not None:
                out[f"{prefix}_max_days"] = days
    elif spec.odata_type == ENABLEMENT:
        _check_envelope(body, spec, {"enabledRules"})
        out.update(_enablement(spec, body.get("enabledRules")))
    elif spec.odata_type == APPROVAL:
        _check_envelope(body, spec, {"setting"})
        out.update(_approval(body.get("setting"), reported["setting"]))
    elif spec.odata_type == AUTH_CONTEXT:
        _check_envelope(body, spec, {"isEnabled", "claimValue"})
        _fixed(body, "isEnabled", False)
        _fixed(body, "claimValue", None)
    else:
        out.update(_notification(spec, body, reported))
    return out


def _notification(spec: RuleSpec, body: Mapping[str, Any], reported: Item) -> dict[str, Any]:
    keys = {"notificationType", "recipientType"}
    _check_envelope(
        body,
        spec,
        {*keys, "notificationLevel", "isDefaultRecipientsEnabled", "notificationRecipients"},
    )
    for key in keys:
        _fixed(body, key, reported[key])
    change: dict[str, Any] = {}
    default = _bool(body, "isDefaultRecipientsEnabled")
    if default is not None:
        change["default_recipients"] = default
    recipients = body.get("notificationRecipients")
    if recipients is not None:
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise bad_request("notificationRecipients must be a list of email addresses.")
        change["extra_recipients"] = [r for r in recipients if r.strip()]
    level = body.get("notificationLevel")
    if level is not None:
        if not isinstance(level, str):
            raise bad_request("notificationLevel must be All, Critical or None.")
        change["level"] = level  # the service checks it
    if not change:
        return {}
    stage, recipient = notification_key(spec)
    return {"notification_rules": {stage.value: {recipient.value: change}}}


def _enablement(spec: RuleSpec, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("enabledRules must be a list of rule names.")
    names = set(value)
    if spec.caller == "EndUser":
        allowed = {MFA, JUSTIFICATION, TICKETING}
        fields = {
            MFA: "require_mfa_on_activation",
            JUSTIFICATION: "require_justification_on_activation",
            TICKETING: "require_ticket_on_activation",
        }
    elif spec.level == "Assignment":
        allowed = {MFA, JUSTIFICATION}
        fields = {
            MFA: "require_mfa_on_active_assignment",
            JUSTIFICATION: "require_justification_on_active_assignment",
        }
    else:
        allowed, fields = set(), {}
    unknown = names - allowed
    if unknown:
        raise bad_request(
            f"enabledRules of {spec.id} may hold {sorted(allowed) or 'nothing'} in OpenPIM; "
            f"not {sorted(unknown)}."
        )
    return {field: name in names for name, field in fields.items()}


def _approval(setting: Any, reported: Item) -> dict[str, Any]:
    if setting is None:
        return {}
    if not isinstance(setting, Mapping):
        raise bad_request("setting must be an object.")
    for key in ("isApprovalRequiredForExtension",):
        _fixed(setting, key, reported[key])
    if setting.get("approvalMode") not in (None, "SingleStage", "NoApproval"):
        raise bad_request("approvalMode must be SingleStage (OpenPIM has one approval stage).")
    out: dict[str, Any] = {}
    required = _bool(setting, "isApprovalRequired")
    if required is not None:
        out["require_approval_on_activation"] = required
    justification = _bool(setting, "isRequestorJustificationRequired")
    if justification is not None:
        out["require_justification_on_activation"] = justification
    stages = setting.get("approvalStages")
    if stages is None:
        return out
    if not isinstance(stages, list) or len(stages) > 1:
        raise bad_request("approvalStages must hold exactly one stage in OpenPIM.")
    if not stages:
        return out
    stage, fixed = stages[0], reported["approvalStages"][0]
    if not isinstance(stage, Mapping):
        raise bad_request("An approval stage must be an object.")
    for key in (
        "approvalStageTimeOutInDays",
        "isApproverJustificationRequired",
        "escalationTimeInMinutes",
        "isEscalationEnabled",
        "escalationApprovers",
    ):
        _fixed(stage, key, fixed[key])
    approvers = stage.get("primaryApprovers")
    if approvers is not None:
        out["approver_ids"] = [_approver(a) for a in _as_list(approvers, "primaryApprovers")]
    return out


def _as_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"{name} must be a list.")
    return value


def _approver(subject: Any) -> uuid.UUID:
    if not isinstance(subject, Mapping) or subject.get("@odata.type") != SINGLE_USER:
        raise bad_request(
            f"Approvers must be {SINGLE_USER} subjects with a userId; groups, managers and "
            "other subject sets are not supported."
        )
    return parse_guid(subject.get("userId"), field="primaryApprovers.userId")
