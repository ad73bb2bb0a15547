"""A PATCH of one rule turned into RoleSettings changes.

Only the shape is checked here; the bounds and the MFA lock are the service's
(policies.service.update_role_settings), so native and Graph writes obey the same rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from openpim.graph.errors import bad_request
from openpim.graph.policy_rules.catalogue import (
    APPROVAL,
    AUTH_CONTEXT,
    ENABLEMENT,
    EXPIRATION,
    JUSTIFICATION,
    MFA,
    SINGLE_USER,
    TICKETING,
    RuleSpec,
    notification_key,
)
from openpim.graph.policy_rules.rule_items import rule
from openpim.graph.shapes import Item
from openpim.graph.values import parse_duration, parse_guid
from openpim.policies.settings import RoleSettings


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
