"""Role settings: one policy per (directory, role), Microsoft's defaults when none is stored.

Reading is on the hot path (every activation and assignment asks), so `read_role_settings` is one
SQLAlchemy Core query joining the role to its optional policy row. Writing validates every
changed field (the rules are in policies/validation.py), and records the old and new value of
each field that really changed.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage, require_read_all
from openpim.db import direct
from openpim.directory.models import Directory
from openpim.kit.context import Ctx
from openpim.kit.durations import format_duration
from openpim.kit.errors import NotFound
from openpim.policies.models import RolePolicy
from openpim.policies.notification_rules import NotificationRules, RuleKey
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.settings import RoleSettings
from openpim.policies.validation import (
    LEGACY_FIELDS,
    LEGACY_RULE,
    SETTING_FIELDS,
    check_approvers_are_enabled_users,
    validate_changes,
)
from openpim.roles.models import RoleDefinition
from openpim.roles.service import find_role, require_directory_member

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


def _build(role_id: uuid.UUID, directory_id: uuid.UUID, locked: bool, src: Any) -> RoleSettings:
    """RoleSettings from a policy row (Core row or ORM object alike), or defaults when None."""
    if src is None:
        return RoleSettings(role_id=role_id, directory_id=directory_id, mfa_locked=locked)
    return RoleSettings(
        role_id=role_id,
        directory_id=directory_id,
        activation_max_duration=timedelta(seconds=src.activation_max_seconds),
        # A role may become highly privileged after its row was written: the lock wins (changes
        # switching it off are refused by validation._check_locked_mfa_stays_on).
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


# --- update -------------------------------------------------------------------------------


def _apply(current: RoleSettings, values: Mapping[str, Any]) -> RoleSettings:
    """`current` with validated changes applied (the old notify_* names go to their rule)."""
    rule_changes: dict[RuleKey, dict[str, Any]] = {}
    legacy = {new: values[old] for old, new in LEGACY_FIELDS.items() if old in values}
    if legacy:
        rule_changes[LEGACY_RULE] = legacy
    for key, fields in values.get("notification_rules", {}).items():
        rule_changes[key] = {**rule_changes.get(key, {}), **fields}
    plain = {
        k: v for k, v in values.items() if k not in LEGACY_FIELDS and k != "notification_rules"
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
        for field in sorted(SETTING_FIELDS - set(LEGACY_FIELDS) - {"notification_rules"})
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
        check_approvers_are_enabled_users(ctx, directory_id, values["approver_ids"])
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
