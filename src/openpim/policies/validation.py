"""Which changes to a role's settings are accepted: Microsoft's bounds and PIM's own rules.

Every way of changing settings (API, Graph, web pages, CLI, alert fixes) goes through
`policies.service.update_role_settings`, which calls `validate_changes` and then
`check_approvers_are_enabled_users`, so all of them refuse the same values with the same codes.

  activation maximum: whole seconds, 30 minutes to 24 hours       _check_activation_max
  eligible / active assignment maximum: 1 to 3650 days            _check_max_days
  MFA on activation cannot be switched off on a locked role       _check_locked_mfa_stays_on
  at most 100 approvers, each an enabled user of the directory    _check_approver_count,
                                                                  check_approvers_are_enabled_users
  at most 100 extra recipients per rule, each an email address    _check_extra_recipients
  notification rules: known stage, recipient type and field;      _check_notification_rules
    level All, Critical or None
  the old notify_* names and the (activation, admin) rule may     _check_legacy_agrees
    both be given, but not disagree
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.durations import format_duration
from openpim.kit.errors import ValidationFailed
from openpim.notifications.addresses import canonical_address, is_address
from openpim.policies.notification_rules import (
    RULE_FIELDS,
    RecipientType,
    RuleKey,
    Stage,
    parse_level,
)
from openpim.policies.settings import ACTIVATION_MAX, ACTIVATION_MIN, RoleSettings

MAX_DAYS_MIN = 1
MAX_DAYS_MAX = 3650
MAX_APPROVERS = 100
MAX_EXTRA_RECIPIENTS = 100

# What a change may name: the settings themselves (not the role, directory or lock they belong
# to) plus the two old names below.
SETTING_FIELDS = frozenset(
    f.name
    for f in dataclasses.fields(RoleSettings)
    if f.name not in ("role_id", "directory_id", "mfa_locked", "is_default")
) | {"notify_default_recipients", "notify_extra_recipients"}
# The two settings from before the nine notification rules: fields of the (activation, admin)
# rule under their old names.
LEGACY_RULE: RuleKey = (Stage.ACTIVATION, RecipientType.ADMIN)
LEGACY_FIELDS = {
    "notify_default_recipients": "default_recipients",
    "notify_extra_recipients": "extra_recipients",
}


def validate_changes(changes: Mapping[str, Any], *, mfa_locked: bool) -> dict[str, Any]:
    """Check requested setting changes against the bounds; return them normalised.

    Pure (no database): the approvers' existence is checked separately by the caller.
    `notification_rules` comes back as {(stage, recipient type): {field: value}}.
    """
    out: dict[str, Any] = {}
    for field in sorted(changes):
        value = changes[field]
        if field not in SETTING_FIELDS:
            raise ValidationFailed(
                f"Unknown setting {field!r}.", code="unknown_setting", field=field
            )
        if field == "notification_rules":
            out[field] = _check_notification_rules(value)
        elif field == "activation_max_duration":
            out[field] = _check_activation_max(value)
        elif field in ("eligible_max_days", "active_max_days"):
            out[field] = _check_max_days(field, value)
        elif field == "notify_extra_recipients":
            out[field] = _check_extra_recipients(field, value)
        elif field == "approver_ids":
            out[field] = _check_approver_count(value)
        elif field == "require_mfa_on_activation":
            out[field] = _check_locked_mfa_stays_on(field, value, mfa_locked=mfa_locked)
        else:
            out[field] = _check_switch(field, value)
    _check_legacy_agrees(out)
    return out


def check_approvers_are_enabled_users(
    ctx: Ctx, directory_id: uuid.UUID, approver_ids: tuple[uuid.UUID, ...]
) -> None:
    """The database half of validating `approver_ids`, kept out of the pure `validate_changes`."""
    if not approver_ids:
        return
    users = {u.id: u for u in ctx.session.scalars(select(User).where(User.id.in_(approver_ids)))}
    for approver_id in approver_ids:
        user = users.get(approver_id)
        if user is None or user.directory_id != directory_id:
            raise ValidationFailed(
                f"Approver {approver_id} is not a user of this directory.",
                code="approver_not_found",
                field="approver_ids",
            )
        if not user.enabled:
            raise ValidationFailed(
                f"Approver {user.user_principal_name} is disabled.",
                code="approver_disabled",
                field="approver_ids",
            )


def _out_of_bounds(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code="setting_out_of_bounds", field=field)


def _check_activation_max(value: timedelta) -> timedelta:
    field = "activation_max_duration"
    if value.microseconds:
        raise _out_of_bounds(field, "The activation maximum must be a whole number of seconds.")
    if not ACTIVATION_MIN <= value <= ACTIVATION_MAX:
        raise _out_of_bounds(
            field,
            f"The activation maximum must be between {format_duration(ACTIVATION_MIN)} and "
            f"{format_duration(ACTIVATION_MAX)}, got {format_duration(value)}.",
        )
    return value


def _check_max_days(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number of days.", field=field)
    if not MAX_DAYS_MIN <= value <= MAX_DAYS_MAX:
        raise _out_of_bounds(
            field, f"{field} must be between {MAX_DAYS_MIN} and {MAX_DAYS_MAX} days, got {value}."
        )
    return value


def _check_switch(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false.", field=field)
    return value


def _check_locked_mfa_stays_on(field: str, value: Any, *, mfa_locked: bool) -> bool:
    """Microsoft's highly privileged roles always need MFA to activate.

    Reading enforces the same lock for rows written before a role became locked
    (`policies.service._build`).
    """
    switched_on = _check_switch(field, value)
    if mfa_locked and not switched_on:
        raise ValidationFailed(
            "This is a highly privileged role: MFA on activation is always required "
            "and cannot be switched off.",
            code="mfa_locked",
            field=field,
        )
    return switched_on


def _check_extra_recipients(field: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationFailed(f"{field} must be a list of email addresses.", field=field)
    cleaned: dict[str, str] = {}
    for raw in values:
        address = raw.strip() if isinstance(raw, str) else None
        if address is None or not is_address(address):
            raise ValidationFailed(
                f"{raw!r} is not an email address.", code="invalid_email", field=field
            )
        address = canonical_address(address)
        # Spellings differing only in case are taken for one mailbox (as mail systems almost
        # always treat them): it is kept once, as first given.
        cleaned.setdefault(address.casefold(), address)
    if len(cleaned) > MAX_EXTRA_RECIPIENTS:
        raise _out_of_bounds(field, f"At most {MAX_EXTRA_RECIPIENTS} extra recipients.")
    return tuple(cleaned.values())


def _check_approver_count(values: Iterable[uuid.UUID]) -> tuple[uuid.UUID, ...]:
    unique = tuple(dict.fromkeys(values))
    if len(unique) > MAX_APPROVERS:
        raise _out_of_bounds("approver_ids", f"At most {MAX_APPROVERS} approvers.")
    return unique


def _check_notification_rules(value: Any) -> dict[RuleKey, dict[str, Any]]:
    """A partial change of the notification rules, {stage: {recipient type: {field: value}}},
    as {(stage, recipient type): {field: normalised value}}; None values are left out."""
    base = "notification_rules"
    if not isinstance(value, Mapping):
        raise ValidationFailed(f"{base} must be an object.", field=base)
    out: dict[RuleKey, dict[str, Any]] = {}
    for stage_name in sorted(value, key=str):
        stage_field = f"{base}.{stage_name}"
        stage = next((s for s in Stage if s.value == stage_name), None)
        if stage is None:
            raise ValidationFailed(
                f"Unknown stage {stage_name!r}: one of {', '.join(Stage)}.",
                code="unknown_setting",
                field=stage_field,
            )
        by_type = value[stage_name]
        if by_type is None:
            continue
        if not isinstance(by_type, Mapping):
            raise ValidationFailed(f"{stage_field} must be an object.", field=stage_field)
        for type_name in sorted(by_type, key=str):
            rule_field = f"{stage_field}.{type_name}"
            recipient = next((r for r in RecipientType if r.value == type_name), None)
            if recipient is None:
                raise ValidationFailed(
                    f"Unknown recipient type {type_name!r}: one of {', '.join(RecipientType)}.",
                    code="unknown_setting",
                    field=rule_field,
                )
            change = by_type[type_name]
            if change is None:
                continue
            if not isinstance(change, Mapping):
                raise ValidationFailed(f"{rule_field} must be an object.", field=rule_field)
            fields: dict[str, Any] = {}
            for name in sorted(change, key=str):
                if name not in RULE_FIELDS:
                    raise ValidationFailed(
                        f"Unknown setting {name!r} of a notification rule: one of "
                        f"{', '.join(RULE_FIELDS)}.",
                        code="unknown_setting",
                        field=f"{rule_field}.{name}",
                    )
                if change[name] is not None:
                    fields[name] = _check_rule_field(f"{rule_field}.{name}", name, change[name])
            if fields:
                out[(stage, recipient)] = fields
    return out


def _check_rule_field(field: str, name: str, value: Any) -> Any:
    if name == "default_recipients":
        return _check_switch(field, value)
    if name == "extra_recipients":
        return _check_extra_recipients(field, value)
    level = parse_level(value)
    if level is None:
        raise ValidationFailed(
            f"{field} must be All, Critical or None, got {value!r}.",
            code="invalid_level",
            field=field,
        )
    return level


def _check_legacy_agrees(out: Mapping[str, Any]) -> None:
    """The old names and the (activation, admin) rule may both be given, but not disagree."""
    rule = out.get("notification_rules", {}).get(LEGACY_RULE, {})
    for old, new in LEGACY_FIELDS.items():
        if old in out and new in rule and out[old] != rule[new]:
            raise ValidationFailed(
                f"{old} and notification_rules.activation.admin.{new} are the same setting "
                "and were given different values.",
                code="conflicting_settings",
                field=old,
            )
