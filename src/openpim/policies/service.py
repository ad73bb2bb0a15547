"""Role settings: one policy per (directory, role), Microsoft's defaults when none is stored.

Reading is on the hot path (every activation and assignment asks), so `read_role_settings` is one
SQLAlchemy Core query joining the role to its optional policy row. Writing validates every
changed field against Microsoft's bounds, keeps MFA on for highly privileged roles, and records
the old and new value of each field that really changed.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage, require_read_all
from openpim.db import direct
from openpim.directory.models import Directory, User
from openpim.kit.context import Ctx
from openpim.kit.durations import format_duration
from openpim.kit.errors import NotFound, ValidationFailed
from openpim.policies.models import RolePolicy
from openpim.policies.notification_rules import (
    RULE_FIELDS,
    NotificationRules,
    RecipientType,
    RuleKey,
    Stage,
    parse_level,
)
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.settings import ACTIVATION_MAX, ACTIVATION_MIN, RoleSettings
from openpim.roles.models import RoleDefinition
from openpim.roles.service import find_role, require_directory_member

MAX_DAYS_MIN = 1
MAX_DAYS_MAX = 3650
MAX_APPROVERS = 100
MAX_EXTRA_RECIPIENTS = 100

_roles: Table = RoleDefinition.__table__  # type: ignore[assignment]
_policies: Table = RolePolicy.__table__  # type: ignore[assignment]

_POLICY_COLUMNS = (
    "activation_max_seconds",
    "require_mfa_on_activation",
    "require_justification_on_activation",
    "require_ticket_on_activation",
    "require_approval_on_activation",
    "approver_ids",
    "notify_default_recipients",
    "notify_extra_recipients",
    "notification_rules",
    "eligible_allow_permanent",
    "eligible_max_days",
    "active_allow_permanent",
    "active_max_days",
    "require_mfa_on_active_assignment",
    "require_justification_on_active_assignment",
)

_SETTINGS_SELECT = select(
    _roles.c.id.label("role_id"),
    _roles.c.display_name,
    _roles.c.mfa_always_required,
    _policies.c.id.label("policy_id"),
    *(_policies.c[name] for name in _POLICY_COLUMNS),
).select_from(
    _roles.outerjoin(
        _policies,
        and_(
            _policies.c.role_id == _roles.c.id,
            _policies.c.directory_id == bindparam("directory_id"),
        ),
    )
)
_ONE_ROLE = _SETTINGS_SELECT.where(
    _roles.c.id == bindparam("role_id"),
    or_(_roles.c.is_built_in.is_(True), _roles.c.directory_id == bindparam("directory_id")),
)
_ALL_ROLES = _SETTINGS_SELECT.where(
    or_(_roles.c.is_built_in.is_(True), _roles.c.directory_id == bindparam("directory_id"))
)

# Dot-atom local part and a dotted DNS name: what a mail relay will accept without surprises.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})"
)


def _build(role_id: uuid.UUID, directory_id: uuid.UUID, locked: bool, src: Any) -> RoleSettings:
    """RoleSettings from a policy row (Core row or ORM object alike), or defaults when None."""
    if src is None:
        return RoleSettings(role_id=role_id, directory_id=directory_id, mfa_locked=locked)
    return RoleSettings(
        role_id=role_id,
        directory_id=directory_id,
        activation_max_duration=timedelta(seconds=src.activation_max_seconds),
        # A role may become highly privileged after its row was written: the lock wins.
        require_mfa_on_activation=bool(src.require_mfa_on_activation) or locked,
        require_justification_on_activation=bool(src.require_justification_on_activation),
        require_ticket_on_activation=bool(src.require_ticket_on_activation),
        require_approval_on_activation=bool(src.require_approval_on_activation),
        approver_ids=tuple(uuid.UUID(str(v)) for v in src.approver_ids or ()),
        notification_rules=_rules_of(src),
        eligible_allow_permanent=bool(src.eligible_allow_permanent),
        eligible_max_days=int(src.eligible_max_days),
        active_allow_permanent=bool(src.active_allow_permanent),
        active_max_days=int(src.active_max_days),
        require_mfa_on_active_assignment=bool(src.require_mfa_on_active_assignment),
        require_justification_on_active_assignment=bool(
            src.require_justification_on_active_assignment
        ),
        mfa_locked=locked,
        is_default=False,
    )


def _rules_of(src: Any) -> NotificationRules:
    if src.notification_rules is None:  # written before the nine rules
        return NotificationRules.from_legacy(
            src.notify_default_recipients, src.notify_extra_recipients
        )
    return NotificationRules.from_json(src.notification_rules)


def _from_row(row: Any, directory_id: uuid.UUID) -> RoleSettings:
    source = row if row.policy_id is not None else None
    return _build(row.role_id, directory_id, bool(row.mfa_always_required), source)


def read_role_settings(
    db: Session | Connection, directory_id: uuid.UUID, role_id: uuid.UUID
) -> RoleSettings:
    """The settings of a role in a directory, without an authorisation check: one query.

    For services that have already authorised their caller (activation, assignment).
    """
    conn = db.connection() if isinstance(db, Session) else db
    row = direct.first(conn, _ONE_ROLE, {"directory_id": directory_id, "role_id": role_id})
    if row is None:
        raise NotFound("No such role in this directory.", code="role_not_found")
    return _from_row(row, directory_id)


def read_directory_settings(
    db: Session | Connection, directory_id: uuid.UUID
) -> list[RoleSettings]:
    """Settings of every role the directory sees, ordered by role name, without authorisation."""
    rows = sorted(
        db.execute(_ALL_ROLES, {"directory_id": directory_id}),
        key=lambda r: (r.display_name.casefold(), str(r.role_id)),
    )
    return [_from_row(row, directory_id) for row in rows]


def get_role_settings(ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID) -> RoleSettings:
    """Any signed-in user of the directory may read a role's settings (activation needs them)."""
    require_directory_member(ctx, directory_id)
    return read_role_settings(ctx.session, directory_id, role_id)


def list_role_settings(ctx: Ctx, directory_id: uuid.UUID) -> list[RoleSettings]:
    """Every role's settings (approvers, recipients included): for PIM's readers only."""
    require_directory_member(ctx, directory_id)
    require_read_all(ctx, directory_id)
    return read_directory_settings(ctx.session, directory_id)


# --- validation ---------------------------------------------------------------------------

_SETTING_FIELDS = frozenset(
    f.name
    for f in dataclasses.fields(RoleSettings)
    if f.name not in ("role_id", "directory_id", "mfa_locked", "is_default")
) | {"notify_default_recipients", "notify_extra_recipients"}
# The two settings from before the nine notification rules: fields of the (activation, admin)
# rule under their old names.
_LEGACY_RULE: RuleKey = (Stage.ACTIVATION, RecipientType.ADMIN)
_LEGACY_FIELDS = {
    "notify_default_recipients": "default_recipients",
    "notify_extra_recipients": "extra_recipients",
}


def _out_of_bounds(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code="setting_out_of_bounds", field=field)


def _check_activation_max(value: timedelta) -> timedelta:
    field = "activation_max_duration"
    if value.microseconds:
        raise ValidationFailed(
            "The activation maximum must be a whole number of seconds.",
            code="setting_out_of_bounds",
            field=field,
        )
    if not ACTIVATION_MIN <= value <= ACTIVATION_MAX:
        raise _out_of_bounds(
            field,
            f"The activation maximum must be between {format_duration(ACTIVATION_MIN)} and "
            f"{format_duration(ACTIVATION_MAX)}, got {format_duration(value)}.",
        )
    return value


def _check_days(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number of days.", field=field)
    if not MAX_DAYS_MIN <= value <= MAX_DAYS_MAX:
        raise _out_of_bounds(
            field, f"{field} must be between {MAX_DAYS_MIN} and {MAX_DAYS_MAX} days, got {value}."
        )
    return value


def _check_recipients(values: Any, field: str = "notify_extra_recipients") -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationFailed(f"{field} must be a list of email addresses.", field=field)
    cleaned: dict[str, str] = {}
    for raw in values:
        if not isinstance(raw, str):
            raise ValidationFailed(
                f"{raw!r} is not an email address.", code="invalid_email", field=field
            )
        address = raw.strip()
        if len(address) > 254 or _EMAIL.fullmatch(address) is None:
            raise ValidationFailed(
                f"{raw!r} is not an email address.", code="invalid_email", field=field
            )
        local, domain = address.rsplit("@", 1)
        if len(local) > 64:
            raise ValidationFailed(
                f"{raw!r} is not an email address.", code="invalid_email", field=field
            )
        # Domains are case-insensitive; local parts may not be, so they are kept as given.
        address = f"{local}@{domain.lower()}"
        cleaned.setdefault(address.casefold(), address)
    if len(cleaned) > MAX_EXTRA_RECIPIENTS:
        raise _out_of_bounds(field, f"At most {MAX_EXTRA_RECIPIENTS} extra recipients.")
    return tuple(cleaned.values())


def _check_approver_count(values: Iterable[uuid.UUID]) -> tuple[uuid.UUID, ...]:
    unique = tuple(dict.fromkeys(values))
    if len(unique) > MAX_APPROVERS:
        raise _out_of_bounds("approver_ids", f"At most {MAX_APPROVERS} approvers.")
    return unique


def _check_rule_field(field: str, name: str, value: Any) -> Any:
    if name == "default_recipients":
        if not isinstance(value, bool):
            raise ValidationFailed(f"{field} must be true or false.", field=field)
        return value
    if name == "extra_recipients":
        return _check_recipients(value, field)
    level = parse_level(value)
    if level is None:
        raise ValidationFailed(
            f"{field} must be All, Critical or None, got {value!r}.",
            code="invalid_level",
            field=field,
        )
    return level


def _check_rules(value: Any) -> dict[RuleKey, dict[str, Any]]:
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


def _check_legacy_agrees(out: Mapping[str, Any]) -> None:
    """The old names and the (activation, admin) rule may both be given, but not disagree."""
    rule = out.get("notification_rules", {}).get(_LEGACY_RULE, {})
    for old, new in _LEGACY_FIELDS.items():
        if old in out and new in rule and out[old] != rule[new]:
            raise ValidationFailed(
                f"{old} and notification_rules.activation.admin.{new} are the same setting "
                "and were given different values.",
                code="conflicting_settings",
                field=old,
            )


def validate_changes(changes: Mapping[str, Any], *, mfa_locked: bool) -> dict[str, Any]:
    """Check requested setting changes against the bounds; return them normalised.

    Pure (no database): the approvers' existence is checked separately by the caller.
    `notification_rules` comes back as {(stage, recipient type): {field: value}}.
    """
    out: dict[str, Any] = {}
    for field in sorted(changes):
        value = changes[field]
        if field not in _SETTING_FIELDS:
            raise ValidationFailed(
                f"Unknown setting {field!r}.", code="unknown_setting", field=field
            )
        if field == "notification_rules":
            out[field] = _check_rules(value)
        elif field == "activation_max_duration":
            out[field] = _check_activation_max(value)
        elif field in ("eligible_max_days", "active_max_days"):
            out[field] = _check_days(field, value)
        elif field == "notify_extra_recipients":
            out[field] = _check_recipients(value)
        elif field == "approver_ids":
            out[field] = _check_approver_count(value)
        else:
            if not isinstance(value, bool):
                raise ValidationFailed(f"{field} must be true or false.", field=field)
            if field == "require_mfa_on_activation" and mfa_locked and not value:
                raise ValidationFailed(
                    "This is a highly privileged role: MFA on activation is always required "
                    "and cannot be switched off.",
                    code="mfa_locked",
                    field=field,
                )
            out[field] = value
    _check_legacy_agrees(out)
    return out


def _check_approvers(
    ctx: Ctx, directory_id: uuid.UUID, approver_ids: tuple[uuid.UUID, ...]
) -> None:
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


# --- update -------------------------------------------------------------------------------


def _apply(current: RoleSettings, values: Mapping[str, Any]) -> RoleSettings:
    """`current` with validated changes applied (the old notify_* names go to their rule)."""
    rule_changes: dict[RuleKey, dict[str, Any]] = {}
    legacy = {new: values[old] for old, new in _LEGACY_FIELDS.items() if old in values}
    if legacy:
        rule_changes[_LEGACY_RULE] = legacy
    for key, fields in values.get("notification_rules", {}).items():
        rule_changes[key] = {**rule_changes.get(key, {}), **fields}
    plain = {
        k: v for k, v in values.items() if k not in _LEGACY_FIELDS and k != "notification_rules"
    }
    return dataclasses.replace(
        current,
        **plain,
        notification_rules=current.notification_rules.with_changes(rule_changes),
        is_default=False,
    )


def _diff(current: RoleSettings, updated: RoleSettings) -> dict[str, Any]:
    """Old and new value of every setting that changed; a notification rule is one entry."""
    diff = {
        field: {
            "old": _jsonable(getattr(current, field)),
            "new": _jsonable(getattr(updated, field)),
        }
        for field in sorted(_SETTING_FIELDS - set(_LEGACY_FIELDS) - {"notification_rules"})
        if getattr(current, field) != getattr(updated, field)
    }
    new_rules = dict(updated.notification_rules.items())
    for (stage, recipient), old in current.notification_rules.items():
        new = new_rules[(stage, recipient)]
        if old != new:
            diff[f"notification_rules.{stage}.{recipient}"] = {
                "old": old.as_json(),
                "new": new.as_json(),
            }
    return diff


def _jsonable(value: Any) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return value


def _store(row: RolePolicy, settings: RoleSettings) -> None:
    row.activation_max_seconds = int(settings.activation_max_duration.total_seconds())
    row.require_mfa_on_activation = settings.require_mfa_on_activation
    row.require_justification_on_activation = settings.require_justification_on_activation
    row.require_ticket_on_activation = settings.require_ticket_on_activation
    row.require_approval_on_activation = settings.require_approval_on_activation
    row.approver_ids = [str(v) for v in settings.approver_ids]
    row.notification_rules = settings.notification_rules.as_json()
    # Kept in step for readers of the two old columns (and a downgrade).
    row.notify_default_recipients = settings.notify_default_recipients
    row.notify_extra_recipients = list(settings.notify_extra_recipients)
    row.eligible_allow_permanent = settings.eligible_allow_permanent
    row.eligible_max_days = settings.eligible_max_days
    row.active_allow_permanent = settings.active_allow_permanent
    row.active_max_days = settings.active_max_days
    row.require_mfa_on_active_assignment = settings.require_mfa_on_active_assignment
    row.require_justification_on_active_assignment = (
        settings.require_justification_on_active_assignment
    )


def update_role_settings(
    ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID, changes: RoleSettingsUpdate
) -> RoleSettings:
    """Change some settings of a role. Only a PRA (or the operator) may; a no-op writes nothing."""
    require_manage(ctx, directory_id)
    # Serialise settings changes per directory: the first update of a role inserts its row, and
    # two racing inserts would otherwise end in a unique-constraint error instead of in order.
    locked_dir = ctx.session.execute(
        select(Directory.id).where(Directory.id == directory_id).with_for_update()
    ).first()
    if locked_dir is None:
        raise NotFound("No such directory.", code="directory_not_found")
    role = find_role(ctx, directory_id, role_id)
    values = validate_changes(changes.changes(), mfa_locked=role.mfa_always_required)
    if "approver_ids" in values:
        _check_approvers(ctx, directory_id, values["approver_ids"])
    row = ctx.session.execute(
        select(RolePolicy).where(
            RolePolicy.directory_id == directory_id, RolePolicy.role_id == role.id
        )
    ).scalar_one_or_none()
    current = _build(role.id, directory_id, role.mfa_always_required, row)
    updated = _apply(current, values)
    diff = _diff(current, updated)
    if not diff:
        return current
    if row is None:
        row = RolePolicy(directory_id=directory_id, role_id=role.id)
        ctx.session.add(row)
    _store(row, updated)
    row.updated_at = ctx.now
    row.updated_by_id = ctx.actor.user_id
    ctx.session.flush()
    record(
        ctx,
        AuditEntry(
            action="policy.updated",
            directory_id=directory_id,
            role_id=role.id,
            role_label=role.display_name,
            detail={"changes": diff},
        ),
    )
    return updated
