"""Role settings: defaults, bounds, the MFA lock, approvers, recipients, who may change them."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.audit.models import AuditEvent
from openpim.directory.models import Directory
from openpim.kit.errors import Forbidden, NotFound, ValidationFailed
from openpim.policies.models import RolePolicy
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import (
    get_role_settings,
    list_role_settings,
    read_role_settings,
    update_role_settings,
)
from openpim.policies.settings import RoleSettings
from openpim.roles.catalog import BUILT_IN_ROLES
from openpim.roles.models import RoleDefinition
from openpim.roles.service import create_custom_role
from tests.factories import GA, HELPDESK_ADMIN, PASSWORD_ADMIN, PRA, SECURITY_READER, Env

PRIV_AUTH_ADMIN = uuid.UUID("7be44c8a-adaf-4e2a-84d6-ab2649e08a13")


def audit(env: Env, action: str = "policy.updated") -> list[AuditEvent]:
    with env.runtime.db.reader() as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
        s.expunge_all()  # keep the loaded values once the read transaction ends
        return events


def custom(env: Env, directory: Directory, name: str = "Payroll Approver") -> RoleDefinition:
    with env.ctx() as ctx:
        return create_custom_role(ctx, directory.id, name)


def update(env: Env, directory: Directory, role_id: uuid.UUID, **changes: object) -> RoleSettings:
    with env.ctx() as ctx:
        return update_role_settings(
            ctx, directory.id, role_id, RoleSettingsUpdate.model_validate(changes)
        )


def refused(
    env: Env, directory: Directory, role_id: uuid.UUID, **changes: object
) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as failure:
        update(env, directory, role_id, **changes)
    return failure.value


# --- reading ------------------------------------------------------------------------------


def test_a_role_without_a_row_runs_on_microsofts_defaults(env: Env) -> None:
    directory, _ = env.pim_directory()
    member = env.user(directory)
    with env.ctx(member) as ctx:
        settings = get_role_settings(ctx, directory.id, PASSWORD_ADMIN)
        locked = get_role_settings(ctx, directory.id, GA)
    assert settings == RoleSettings(role_id=PASSWORD_ADMIN, directory_id=directory.id)
    assert settings.is_default and not settings.mfa_locked
    assert settings.activation_max_duration == timedelta(hours=8)
    assert settings.require_mfa_on_activation and settings.require_justification_on_activation
    assert not settings.require_ticket_on_activation
    assert not settings.require_approval_on_activation
    assert (settings.eligible_max_days, settings.active_max_days) == (365, 180)
    assert locked.mfa_locked and locked.require_mfa_on_activation


def test_unknown_and_foreign_roles_and_outsiders_are_refused(env: Env) -> None:
    directory, admin = env.pim_directory()
    other, outsider = env.pim_directory()
    theirs = custom(env, other)
    with env.ctx(admin) as ctx:
        for role_id in (uuid.uuid4(), theirs.id):
            with pytest.raises(NotFound) as missing:
                get_role_settings(ctx, directory.id, role_id)
            assert missing.value.code == "role_not_found"
    with env.ctx(outsider) as ctx, pytest.raises(Forbidden):
        get_role_settings(ctx, directory.id, GA)
    with env.ctx() as ctx, pytest.raises(NotFound) as no_directory:
        get_role_settings(ctx, uuid.uuid4(), GA)
    assert no_directory.value.code == "directory_not_found"


def test_list_covers_every_role_for_readers_only(env: Env) -> None:
    directory, _admin = env.pim_directory()
    role = custom(env, directory)
    update(env, directory, role.id, require_ticket_on_activation=True)
    reader = env.user(directory)
    env.permanent(reader, SECURITY_READER)
    with env.ctx(reader) as ctx:
        all_settings = list_role_settings(ctx, directory.id)
    assert len(all_settings) == len(BUILT_IN_ROLES) + 1
    by_role = {s.role_id: s for s in all_settings}
    assert by_role[role.id].require_ticket_on_activation and not by_role[role.id].is_default
    assert by_role[GA].mfa_locked and by_role[GA].is_default
    plain = env.user(directory)
    with env.ctx(plain) as ctx, pytest.raises(Forbidden) as denied:
        list_role_settings(ctx, directory.id)
    assert denied.value.code == "not_pim_reader"


def test_settings_are_per_directory(env: Env) -> None:
    first, _ = env.pim_directory()
    second, _ = env.pim_directory()
    update(env, first, PASSWORD_ADMIN, eligible_max_days=30)
    with env.runtime.db.reader() as s:
        assert read_role_settings(s, first.id, PASSWORD_ADMIN).eligible_max_days == 30
        assert read_role_settings(s, second.id, PASSWORD_ADMIN).is_default


def test_a_stored_mfa_off_on_a_locked_role_still_reads_as_on(env: Env) -> None:
    directory, _ = env.pim_directory()
    update(env, directory, GA, require_ticket_on_activation=True)
    with env.runtime.db.unit_of_work() as s:
        row = s.scalars(select(RolePolicy).where(RolePolicy.role_id == GA)).one()
        row.require_mfa_on_activation = False  # as if the role became highly privileged later
    with env.runtime.db.reader() as s:
        assert read_role_settings(s, directory.id, GA).require_mfa_on_activation
    # An unrelated change is not blocked, and the stored value is repaired.
    update(env, directory, GA, require_ticket_on_activation=False)
    with env.runtime.db.reader() as s:
        row = s.scalars(select(RolePolicy).where(RolePolicy.role_id == GA)).one()
        assert row.require_mfa_on_activation


# --- updating -----------------------------------------------------------------------------


def test_pra_update_is_stored_partially_and_audited_with_old_and_new(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        result = update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate.model_validate(
                {"activation_max_duration": "PT4H", "require_ticket_on_activation": True}
            ),
        )
    assert result.activation_max_duration == timedelta(hours=4) and not result.is_default
    update(env, directory, PASSWORD_ADMIN, active_max_days=90)
    with env.ctx(admin) as ctx:
        stored = get_role_settings(ctx, directory.id, PASSWORD_ADMIN)
    assert stored.activation_max_duration == timedelta(hours=4)
    assert stored.require_ticket_on_activation and stored.active_max_days == 90
    assert stored.eligible_max_days == 365 and not stored.is_default
    first, second = audit(env)
    assert first.actor_id == admin.id and first.role_id == PASSWORD_ADMIN
    assert first.role_label == "Password Administrator" and first.directory_id == directory.id
    assert json.loads(first.detail or "{}") == {
        "changes": {
            "activation_max_duration": {"old": "PT8H", "new": "PT4H"},
            "require_ticket_on_activation": {"old": False, "new": True},
        }
    }
    assert json.loads(second.detail or "{}") == {
        "changes": {"active_max_days": {"old": 180, "new": 90}}
    }
    with env.runtime.db.reader() as s:
        row = s.scalars(select(RolePolicy).where(RolePolicy.role_id == PASSWORD_ADMIN)).one()
        assert row.updated_at == env.now and row.updated_by_id is None  # last was the operator


def test_a_change_to_the_current_values_writes_nothing(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        same = update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(require_mfa_on_activation=True, eligible_max_days=365),
        )
    assert same.is_default
    assert audit(env) == []
    with env.runtime.db.reader() as s:
        assert s.scalars(select(RolePolicy)).all() == []


def test_only_an_active_pra_or_the_operator_may_change_settings(env: Env) -> None:
    directory, _admin = env.pim_directory()
    ga_only = env.user(directory)
    env.permanent(ga_only, GA)
    eligible_pra = env.user(directory)
    env.eligible(eligible_pra, PRA)
    for user in (ga_only, eligible_pra):
        with env.ctx(user) as ctx, pytest.raises(Forbidden) as denied:
            update_role_settings(
                ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(eligible_max_days=5)
            )
        assert denied.value.code == "not_privileged_role_administrator"
    assert audit(env) == []
    assert update(env, directory, PASSWORD_ADMIN, eligible_max_days=5).eligible_max_days == 5
    assert audit(env)[0].actor_label == "operator:tests"


@pytest.mark.parametrize("duration", ["PT29M59S", "PT24H0M1S", "P1DT1S", "PT0S", "-PT1H", "P2D"])
def test_activation_maximum_outside_30_minutes_to_24_hours_is_refused(
    env: Env, duration: str
) -> None:
    directory, _ = env.pim_directory()
    failure = refused(env, directory, PASSWORD_ADMIN, activation_max_duration=duration)
    assert failure.code == "setting_out_of_bounds"
    assert failure.field == "activation_max_duration"
    assert audit(env) == []


@pytest.mark.parametrize(("duration", "hours"), [("PT30M", 0.5), ("PT24H", 24), ("P1D", 24)])
def test_activation_maximum_bounds_are_inclusive(env: Env, duration: str, hours: float) -> None:
    directory, _ = env.pim_directory()
    result = update(env, directory, PASSWORD_ADMIN, activation_max_duration=duration)
    assert result.activation_max_duration == timedelta(hours=hours)


@pytest.mark.parametrize("role_id", [GA, PRA, uuid.UUID("194ae4cb-b126-40b2-bd5b-6091b380977d")])
def test_mfa_cannot_be_switched_off_on_highly_privileged_roles(
    env: Env, role_id: uuid.UUID
) -> None:
    directory, _ = env.pim_directory()
    failure = refused(env, directory, role_id, require_mfa_on_activation=False)
    assert failure.code == "mfa_locked" and failure.field == "require_mfa_on_activation"
    assert audit(env) == []


def test_mfa_may_be_switched_off_on_other_roles(env: Env) -> None:
    directory, _ = env.pim_directory()
    role = custom(env, directory)
    for role_id in (HELPDESK_ADMIN, PRIV_AUTH_ADMIN, role.id):
        result = update(env, directory, role_id, require_mfa_on_activation=False)
        assert not result.require_mfa_on_activation and not result.mfa_locked
    assert len(audit(env)) == 3


@pytest.mark.parametrize("field", ["eligible_max_days", "active_max_days"])
@pytest.mark.parametrize("days", [0, -1, -365, 3651])
def test_max_days_outside_1_to_3650_are_refused(env: Env, field: str, days: int) -> None:
    directory, _ = env.pim_directory()
    failure = refused(env, directory, PASSWORD_ADMIN, **{field: days})
    assert failure.code == "setting_out_of_bounds" and failure.field == field


@pytest.mark.parametrize("days", [1, 3650])
def test_max_days_bounds_are_inclusive(env: Env, days: int) -> None:
    directory, _ = env.pim_directory()
    result = update(env, directory, PASSWORD_ADMIN, eligible_max_days=days, active_max_days=days)
    assert (result.eligible_max_days, result.active_max_days) == (days, days)


def test_approvers_must_be_enabled_users_of_the_directory(env: Env) -> None:
    directory, admin = env.pim_directory()
    _other, foreigner = env.pim_directory()
    approver = env.user(directory)
    disabled = env.user(directory, enabled=False)
    for bad, code in (
        (uuid.uuid4(), "approver_not_found"),
        (foreigner.id, "approver_not_found"),
        (disabled.id, "approver_disabled"),
    ):
        failure = refused(env, directory, PASSWORD_ADMIN, approver_ids=[str(approver.id), str(bad)])
        assert failure.code == code and failure.field == "approver_ids"
    result = update(
        env,
        directory,
        PASSWORD_ADMIN,
        require_approval_on_activation=True,
        approver_ids=[str(approver.id), str(admin.id), str(approver.id)],
    )
    assert result.approver_ids == (approver.id, admin.id)
    with env.runtime.db.reader() as s:
        assert read_role_settings(s, directory.id, PASSWORD_ADMIN).approver_ids == (
            approver.id,
            admin.id,
        )
    cleared = update(env, directory, PASSWORD_ADMIN, approver_ids=[])
    assert cleared.approver_ids == () and cleared.require_approval_on_activation


def test_approval_without_named_approvers_is_allowed(env: Env) -> None:
    directory, _ = env.pim_directory()
    result = update(env, directory, HELPDESK_ADMIN, require_approval_on_activation=True)
    assert result.require_approval_on_activation and result.approver_ids == ()


def test_extra_recipients_are_email_addresses_normalised_and_capped(env: Env) -> None:
    directory, _ = env.pim_directory()
    result = update(
        env,
        directory,
        PASSWORD_ADMIN,
        notify_extra_recipients=[" SecOps@Example.COM ", "secops@example.com", "a.b+pim@x.io"],
    )
    assert result.notify_extra_recipients == ("SecOps@example.com", "a.b+pim@x.io")
    for bad in ("not-an-address", "a@b", "two@@x.io", "x y@z.io", "<a@b.io>", "a@-x.io"):
        failure = refused(env, directory, PASSWORD_ADMIN, notify_extra_recipients=[bad])
        assert failure.code == "invalid_email" and failure.field == "notify_extra_recipients"
    hundred = [f"r{i}@example.com" for i in range(100)]
    assert (
        len(
            update(
                env, directory, HELPDESK_ADMIN, notify_extra_recipients=hundred
            ).notify_extra_recipients
        )
        == 100
    )
    failure = refused(
        env, directory, HELPDESK_ADMIN, notify_extra_recipients=[*hundred, "r100@example.com"]
    )
    assert failure.code == "setting_out_of_bounds"


def test_a_refused_update_changes_nothing(env: Env) -> None:
    directory, _ = env.pim_directory()
    update(env, directory, PASSWORD_ADMIN, eligible_max_days=30)
    refused(env, directory, PASSWORD_ADMIN, eligible_max_days=60, active_max_days=0)
    with env.runtime.db.reader() as s:
        assert read_role_settings(s, directory.id, PASSWORD_ADMIN).eligible_max_days == 30
    assert len(audit(env)) == 1


def test_unknown_roles_cannot_be_configured(env: Env) -> None:
    directory, _ = env.pim_directory()
    other, _ = env.pim_directory()
    theirs = custom(env, other)
    for role_id in (uuid.uuid4(), theirs.id):
        with pytest.raises(NotFound) as missing:
            update(env, directory, role_id, eligible_max_days=5)
        assert missing.value.code == "role_not_found"
