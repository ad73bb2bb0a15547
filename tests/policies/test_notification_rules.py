"""The nine notification rules of role settings: defaults, validation, the old two fields, audit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from openpim.audit.models import AuditEvent
from openpim.directory.models import Directory
from openpim.kit.errors import ValidationFailed
from openpim.policies.models import RolePolicy
from openpim.policies.notification_rules import (
    RULE_KEYS,
    Level,
    NotificationRule,
    NotificationRules,
    RecipientType,
    Stage,
)
from openpim.policies.schemas import RoleSettingsOut, RoleSettingsUpdate
from openpim.policies.service import read_role_settings, update_role_settings
from openpim.policies.settings import RoleSettings
from openpim.policies.validation import validate_changes
from tests.factories import PASSWORD_ADMIN, Env

ACTIVATION_ADMIN = (Stage.ACTIVATION, RecipientType.ADMIN)
ASSIGNEE = (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR)


def update(env: Env, directory: Directory, **changes: Any) -> RoleSettings:
    with env.ctx() as ctx:
        return update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate.model_validate(changes)
        )


def refused(env: Env, directory: Directory, **changes: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as failure:
        update(env, directory, **changes)
    return failure.value


def read(env: Env, directory: Directory) -> RoleSettings:
    with env.runtime.db.reader() as s:
        return read_role_settings(s, directory.id, PASSWORD_ADMIN)


def policy_audits(env: Env) -> list[dict[str, Any]]:
    with env.runtime.db.reader() as s:
        return [
            json.loads(e.detail or "{}")["changes"]
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "policy.updated")
                .order_by(AuditEvent.seq)
            )
        ]


def rule(stage: str, recipient: str, **fields: Any) -> dict[str, Any]:
    return {"notification_rules": {stage: {recipient: fields}}}


def test_defaults_are_entras_every_rule_on_level_all_no_extras(env: Env) -> None:
    directory, _ = env.pim_directory()
    settings = read(env, directory)
    assert settings.is_default
    assert [key for key, _ in settings.notification_rules.items()] == list(RULE_KEYS)
    assert {r for _, r in settings.notification_rules.items()} == {
        NotificationRule(default_recipients=True, extra_recipients=(), level=Level.ALL)
    }
    out = RoleSettingsOut.from_settings(settings).model_dump(mode="json")["notification_rules"]
    assert set(out) == {"eligible_assignment", "active_assignment", "activation"}
    assert out["active_assignment"]["approver"] == {
        "default_recipients": True,
        "extra_recipients": [],
        "level": "All",
    }


def test_each_rule_is_set_on_its_own_normalised_and_stored(env: Env) -> None:
    directory, _ = env.pim_directory()
    result = update(
        env,
        directory,
        notification_rules={
            "eligible_assignment": {
                "requestor": {
                    "default_recipients": False,
                    "extra_recipients": [" Audit@Contoso.EXAMPLE ", "audit@contoso.example"],
                    "level": "critical",
                }
            },
            "activation": {"approver": {"level": "NONE"}},
        },
    )
    assert result.notification_rules.get(*ASSIGNEE) == NotificationRule(
        False, ("Audit@contoso.example",), Level.CRITICAL
    )
    assert result.notification_rules.get(Stage.ACTIVATION, RecipientType.APPROVER).level == (
        Level.NONE
    )
    # The rest keep their defaults, and what was read back is what was returned.
    changed = {ASSIGNEE, (Stage.ACTIVATION, RecipientType.APPROVER)}
    assert all(
        r == NotificationRule() for k, r in result.notification_rules.items() if k not in changed
    )
    assert read(env, directory) == result
    # A partial change of one field keeps the rule's other fields.
    again = update(env, directory, **rule("eligible_assignment", "requestor", level="All"))
    assert again.notification_rules.get(*ASSIGNEE) == NotificationRule(
        False, ("Audit@contoso.example",), Level.ALL
    )


def test_bad_values_are_refused_with_the_rules_field_named(env: Env) -> None:
    directory, _ = env.pim_directory()
    base = "notification_rules.activation.requestor"
    bad_address = refused(
        env, directory, **rule("activation", "requestor", extra_recipients=["not-an-address"])
    )
    assert (bad_address.code, bad_address.field) == ("invalid_email", f"{base}.extra_recipients")
    many = [f"r{i}@example.com" for i in range(101)]
    too_many = refused(env, directory, **rule("activation", "requestor", extra_recipients=many))
    assert (too_many.code, too_many.field) == ("setting_out_of_bounds", f"{base}.extra_recipients")
    assert (
        len(
            update(env, directory, **rule("activation", "requestor", extra_recipients=many[:100]))
            .notification_rules.get(Stage.ACTIVATION, RecipientType.REQUESTOR)
            .extra_recipients
        )
        == 100
    )
    level = refused(env, directory, **rule("activation", "requestor", level="Sometimes"))
    assert (level.code, level.field) == ("invalid_level", f"{base}.level")
    assert "All, Critical or None" in level.message


def test_unknown_stages_recipient_types_and_fields_are_refused() -> None:
    with pytest.raises(ValidationFailed) as stage:
        validate_changes({"notification_rules": {"expiry": {}}}, mfa_locked=False)
    assert (stage.value.code, stage.value.field) == ("unknown_setting", "notification_rules.expiry")
    with pytest.raises(ValidationFailed) as who:
        validate_changes({"notification_rules": {"activation": {"manager": {}}}}, mfa_locked=False)
    assert who.value.field == "notification_rules.activation.manager"
    with pytest.raises(ValidationFailed) as field:
        validate_changes(
            {"notification_rules": {"activation": {"admin": {"colour": "red"}}}}, mfa_locked=False
        )
    assert field.value.field == "notification_rules.activation.admin.colour"
    with pytest.raises(ValidationFailed) as kind:
        validate_changes(
            {"notification_rules": {"activation": {"admin": {"default_recipients": "yes"}}}},
            mfa_locked=False,
        )
    assert kind.value.field == "notification_rules.activation.admin.default_recipients"
    # The API schema refuses the same unknown keys before the service sees them.
    with pytest.raises(ValueError):
        RoleSettingsUpdate.model_validate({"notification_rules": {"expiry": {}}})


def test_the_old_two_fields_are_the_activation_admin_rule(env: Env) -> None:
    directory, _ = env.pim_directory()
    old = update(
        env,
        directory,
        notify_default_recipients=False,
        notify_extra_recipients=["SOC@Contoso.example"],
    )
    assert old.notification_rules.get(*ACTIVATION_ADMIN) == NotificationRule(
        False, ("SOC@contoso.example",), Level.ALL
    )
    new = update(env, directory, **rule("activation", "admin", default_recipients=True))
    assert (new.notify_default_recipients, new.notify_extra_recipients) == (
        True,
        ("SOC@contoso.example",),
    )
    out = RoleSettingsOut.from_settings(new).model_dump(mode="json")
    assert (out["notify_default_recipients"], out["notify_extra_recipients"]) == (
        True,
        ["SOC@contoso.example"],
    )
    # Both names for one setting: fine when they agree, refused when they do not.
    both = {"notify_default_recipients": False, **rule("activation", "admin", level="Critical")}
    assert not update(env, directory, **both).notify_default_recipients
    conflict = refused(
        env,
        directory,
        notify_default_recipients=True,
        **rule("activation", "admin", default_recipients=False),
    )
    assert (conflict.code, conflict.field) == ("conflicting_settings", "notify_default_recipients")
    with env.runtime.db.reader() as s:
        row = s.scalars(select(RolePolicy).where(RolePolicy.directory_id == directory.id)).one()
        # The old columns stay in step for their readers.
        assert (row.notify_default_recipients, row.notify_extra_recipients) == (
            False,
            ["SOC@contoso.example"],
        )
        assert row.notification_rules is not None
        assert row.notification_rules["activation"]["admin"]["level"] == "Critical"


def test_a_row_from_before_the_rules_reads_as_its_old_pair_plus_defaults(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.runtime.db.unit_of_work() as s:
        s.add(
            RolePolicy(
                id=uuid.uuid4(),
                directory_id=directory.id,
                role_id=PASSWORD_ADMIN,
                activation_max_seconds=8 * 3600,
                require_mfa_on_activation=True,
                require_justification_on_activation=True,
                require_ticket_on_activation=False,
                require_approval_on_activation=False,
                approver_ids=[],
                notify_default_recipients=False,
                notify_extra_recipients=["soc@contoso.example"],
                notification_rules=None,
                eligible_allow_permanent=True,
                eligible_max_days=365,
                active_allow_permanent=True,
                active_max_days=180,
                require_mfa_on_active_assignment=False,
                require_justification_on_active_assignment=True,
                updated_at=env.now,
                updated_by_id=admin.id,
            )
        )
    legacy = read(env, directory).notification_rules
    assert legacy == NotificationRules.from_legacy(False, ["soc@contoso.example"])
    assert legacy.get(*ACTIVATION_ADMIN) == NotificationRule(False, ("soc@contoso.example",))
    assert legacy.get(*ASSIGNEE) == NotificationRule()
    # Changing another rule keeps the old pair and writes all nine.
    after = update(env, directory, **rule("eligible_assignment", "requestor", level="None"))
    assert after.notification_rules.get(*ACTIVATION_ADMIN) == legacy.get(*ACTIVATION_ADMIN)
    assert read(env, directory) == after
    (changes,) = policy_audits(env)
    assert list(changes) == ["notification_rules.eligible_assignment.requestor"]


def test_every_change_is_audited_with_the_other_settings_and_a_no_op_writes_nothing(
    env: Env,
) -> None:
    directory, _ = env.pim_directory()
    update(
        env,
        directory,
        eligible_max_days=30,
        notify_extra_recipients=["soc@contoso.example"],
        **rule("active_assignment", "admin", level="Critical", default_recipients=False),
    )
    update(env, directory, **rule("active_assignment", "admin", level="critical"))  # no change
    update(env, directory, **rule("active_assignment", "admin", level="All"))
    first, second = policy_audits(env)
    assert first == {
        "eligible_max_days": {"old": 365, "new": 30},
        "notification_rules.activation.admin": {
            "old": {"default_recipients": True, "extra_recipients": [], "level": "All"},
            "new": {
                "default_recipients": True,
                "extra_recipients": ["soc@contoso.example"],
                "level": "All",
            },
        },
        "notification_rules.active_assignment.admin": {
            "old": {"default_recipients": True, "extra_recipients": [], "level": "All"},
            "new": {"default_recipients": False, "extra_recipients": [], "level": "Critical"},
        },
    }
    assert second == {
        "notification_rules.active_assignment.admin": {
            "old": {"default_recipients": False, "extra_recipients": [], "level": "Critical"},
            "new": {"default_recipients": False, "extra_recipients": [], "level": "All"},
        }
    }


def test_a_refused_rule_change_changes_nothing(env: Env) -> None:
    directory, _ = env.pim_directory()
    refused(
        env,
        directory,
        eligible_max_days=30,
        **rule("activation", "admin", extra_recipients=["ok@contoso.example", "bad"]),
    )
    assert read(env, directory).is_default and policy_audits(env) == []
