"""Incidents over time: dismissal, what it covers, auto-resolution, configuration, permissions,
and the scheduled scan."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from openpim.alerts import fixes
from openpim.alerts import service as alerts
from openpim.alerts.definitions import AlertType
from openpim.alerts.models import AlertIncident
from openpim.assignments import service as assignments
from openpim.assignments.models import MemberType
from openpim.kit.errors import Conflict, Forbidden, ValidationFailed
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.alerts.helpers import (
    audit_actions,
    grant,
    open_incident_of,
    outcome,
    pim_setup,
    scan,
)
from tests.factories import (
    GA,
    GLOBAL_READER,
    HELPDESK_ADMIN,
    PASSWORD_ADMIN,
    SECURITY_READER,
    USER_ADMIN,
    Env,
)

STALE = AlertType.STALE_ACCOUNTS.value
NO_MFA = AlertType.NO_MFA_ON_ACTIVATION.value


def _stale_member(env: Env, directory, role=USER_ADMIN):  # type: ignore[no-untyped-def]
    user = env.user(directory, last_sign_in_at=env.now - timedelta(days=120))
    grant(env, user, role)
    return user


def _mfa_off(env: Env, directory, role=PASSWORD_ADMIN) -> None:  # type: ignore[no-untyped-def]
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, role, RoleSettingsUpdate(require_mfa_on_activation=False)
        )


def test_dismissal_needs_a_reason_is_audited_and_wins_once(env: Env) -> None:
    directory, _ = pim_setup(env)
    _stale_member(env, directory)
    incident_id = outcome(env, directory, STALE).incident_id
    assert incident_id is not None
    with pytest.raises(ValidationFailed) as no_reason, env.ctx() as ctx:
        alerts.dismiss(ctx, incident_id, "  ")
    assert no_reason.value.field == "reason"

    with env.ctx() as ctx:
        incident = alerts.dismiss(ctx, incident_id, "known service account, tracked in CHG-12")
    assert incident.status == "dismissed" and incident.dismissed_by_label == "operator:tests"
    (event,) = audit_actions(env, "alert.dismissed")
    assert event.justification == "known service account, tracked in CHG-12"
    with pytest.raises(Conflict), env.ctx() as ctx:
        alerts.dismiss(ctx, incident_id, "again")


def test_a_dismissal_covers_what_it_saw_and_a_new_finding_reopens(env: Env) -> None:
    directory, _ = pim_setup(env)
    _stale_member(env, directory)
    first = outcome(env, directory, STALE)
    with env.ctx() as ctx:
        alerts.dismiss(ctx, first.incident_id, "accepted risk")  # type: ignore[arg-type]

    env.clock.advance(timedelta(hours=1))
    assert outcome(env, directory, STALE).change == "covered_by_dismissal"
    assert open_incident_of(env, directory, STALE) is None

    _stale_member(env, directory, HELPDESK_ADMIN)
    reopened = outcome(env, directory, STALE)
    assert reopened.change == "raised" and reopened.affected == 2
    assert reopened.incident_id != first.incident_id


def test_a_finding_whose_onset_is_after_the_dismissal_reopens(env: Env) -> None:
    directory, _ = pim_setup(env)
    _mfa_off(env, directory)
    first = outcome(env, directory, NO_MFA)
    with env.ctx() as ctx:
        alerts.dismiss(ctx, first.incident_id, "temporary")  # type: ignore[arg-type]
    env.clock.advance(timedelta(minutes=5))
    assert outcome(env, directory, NO_MFA).change == "covered_by_dismissal"
    # MFA on and off again: the same role, but a new occurrence.
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=True)
        )
    env.clock.advance(timedelta(minutes=5))
    _mfa_off(env, directory)
    assert outcome(env, directory, NO_MFA).change == "raised"


def test_incidents_resolve_themselves_when_the_condition_clears(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = _stale_member(env, directory)
    raised = outcome(env, directory, STALE)
    assert raised.change == "raised"
    env.clock.advance(timedelta(minutes=10))
    with env.ctx() as ctx:
        assignments.admin_remove(
            ctx, directory_id=directory.id, principal_id=user.id, role_id=USER_ADMIN,
            member_type=MemberType.ELIGIBLE, justification="left the team",
        )  # fmt: skip
    resolved = outcome(env, directory, STALE)
    assert resolved.change == "resolved" and resolved.incident_id == raised.incident_id
    with env.runtime.db.reader() as s:
        incident = s.get(AlertIncident, raised.incident_id)
        assert incident is not None
        assert (incident.status, incident.resolution) == ("resolved", "condition_cleared")
        assert incident.resolved_at == env.now
    assert len(audit_actions(env, "alert.resolved")) == 1
    assert outcome(env, directory, STALE).change == "clear"


def test_a_dismissed_incident_is_marked_resolved_when_the_condition_clears(env: Env) -> None:
    directory, _ = pim_setup(env)
    _mfa_off(env, directory)
    first = outcome(env, directory, NO_MFA)
    with env.ctx() as ctx:
        alerts.dismiss(ctx, first.incident_id, "ok")  # type: ignore[arg-type]
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=True)
        )
    assert outcome(env, directory, NO_MFA).change == "clear"
    with env.runtime.db.reader() as s:
        incident = s.get(AlertIncident, first.incident_id)
        assert incident is not None and incident.status == "dismissed"
        assert incident.resolved_at is not None


def test_fix_require_mfa_goes_through_the_role_settings(env: Env) -> None:
    directory, _ = pim_setup(env)
    _mfa_off(env, directory)
    _mfa_off(env, directory, HELPDESK_ADMIN)
    raised = outcome(env, directory, NO_MFA)
    assert raised.affected == 2
    with env.ctx() as ctx:
        result = fixes.fix(ctx, raised.incident_id, "require_mfa", [str(PASSWORD_ADMIN)])  # type: ignore[arg-type]
    assert result.rescan.change == "updated" and result.incident.affected_count == 1
    changes = [e for e in audit_actions(env, "policy.updated") if e.role_id == PASSWORD_ADMIN]
    assert len(changes) == 2 and changes[-1].detail and '"new": true' in changes[-1].detail
    with env.ctx() as ctx:
        done = fixes.fix(ctx, raised.incident_id, "require_mfa", [str(HELPDESK_ADMIN)])  # type: ignore[arg-type]
    assert done.incident.status == "resolved"
    assert len(audit_actions(env, "alert.fixed")) == 2


def test_fix_remove_for_a_stale_member_ends_the_eligibility(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = _stale_member(env, directory)
    raised = outcome(env, directory, STALE)
    key = f"{user.id}:{USER_ADMIN}:Eligible"
    with env.ctx() as ctx:
        result = fixes.fix(ctx, raised.incident_id, "remove_assignment", [key], "stale")  # type: ignore[arg-type]
    assert result.incident.status == "resolved"
    (removed,) = audit_actions(env, "eligibility.removed")
    assert removed.target_user_id == user.id and removed.justification == "stale"


def test_a_refused_fix_changes_nothing(env: Env) -> None:
    # Converting the only permanent Global Administrator is refused by the membership rules,
    # and the alert's audit record goes with it.
    directory, admin = pim_setup(env)
    for _ in range(3):
        grant(env, env.user(directory, last_sign_in_at=env.now), HELPDESK_ADMIN)
    with env.ctx() as ctx:
        alerts.update_config(
            ctx, directory.id, AlertType.TOO_MANY_GLOBAL_ADMINS,
            thresholds={"global_admin_count": 2, "global_admin_percent": 0},
        )  # fmt: skip
    for n in range(2):
        grant(env, env.user(directory, f"ga{n}"), GA)  # eligible: not active holders
    raised = outcome(env, directory, AlertType.TOO_MANY_GLOBAL_ADMINS)
    assert raised.change == "raised"
    key = f"{admin.id}:{GA}:Active"
    with pytest.raises(Conflict) as refused, env.ctx() as ctx:
        fixes.fix(ctx, raised.incident_id, "make_eligible", [key])  # type: ignore[arg-type]
    assert refused.value.code == "last_global_administrator"
    assert audit_actions(env, "alert.fixed") == []


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert_type", "name", "bad"),
    [
        (AlertType.TOO_MANY_GLOBAL_ADMINS, "global_admin_count", 1),
        (AlertType.TOO_MANY_GLOBAL_ADMINS, "global_admin_count", 101),
        (AlertType.TOO_MANY_GLOBAL_ADMINS, "global_admin_percent", -1),
        (AlertType.TOO_MANY_GLOBAL_ADMINS, "global_admin_percent", 101),
        (AlertType.TOO_FREQUENT_ACTIVATION, "activation_count", 1),
        (AlertType.TOO_FREQUENT_ACTIVATION, "activation_count", 101),
        (AlertType.TOO_FREQUENT_ACTIVATION, "window_hours", 0),
        (AlertType.TOO_FREQUENT_ACTIVATION, "window_hours", 721),
        (AlertType.UNUSED_ROLES, "days", -1),
        (AlertType.UNUSED_ROLES, "days", 101),
        (AlertType.STALE_ACCOUNTS, "days", 0),
        (AlertType.STALE_ACCOUNTS, "days", 366),
    ],
)
def test_out_of_bounds_thresholds_are_refused_naming_the_field(
    env: Env, alert_type: AlertType, name: str, bad: int
) -> None:
    directory, _ = pim_setup(env)
    with pytest.raises(ValidationFailed) as refused, env.ctx() as ctx:
        alerts.update_config(ctx, directory.id, alert_type, thresholds={name: bad})
    assert refused.value.field == f"thresholds.{name}"
    assert refused.value.code == "threshold_out_of_bounds"


def test_bounds_themselves_are_accepted_and_changes_audited(env: Env) -> None:
    directory, _ = pim_setup(env)
    with env.ctx() as ctx:
        view = alerts.update_config(ctx, directory.id, STALE, thresholds={"days": 365})
        assert view.thresholds == {"days": 365}
        alerts.update_config(ctx, directory.id, STALE, thresholds={"days": 1})
        alerts.update_config(ctx, directory.id, STALE, thresholds={"days": 1})  # no-op
    events = audit_actions(env, "alert.config_updated")
    assert len(events) == 2
    assert events[1].detail is not None and '"new": 1' in events[1].detail


def test_unknown_or_non_integer_thresholds_are_refused(env: Env) -> None:
    directory, _ = pim_setup(env)
    for bad, code in (({"dayz": 3}, "unknown_threshold"), ({"days": "9"}, "threshold_not_integer")):
        with pytest.raises(ValidationFailed) as refused, env.ctx() as ctx:
            alerts.update_config(ctx, directory.id, STALE, thresholds=bad)
        assert refused.value.code == code


def test_disabling_an_alert_resolves_its_incident_and_skips_it(env: Env) -> None:
    directory, _ = pim_setup(env)
    _stale_member(env, directory)
    assert outcome(env, directory, STALE).change == "raised"
    with env.ctx() as ctx:
        view = alerts.update_config(ctx, directory.id, STALE, enabled=False)
    assert view.enabled is False and view.incident is None
    assert scan(env, directory, STALE) == []
    with env.runtime.db.reader() as s:
        incident = s.scalars(select(AlertIncident)).one()
        assert incident.resolution == "alert_disabled"


def test_readers_read_and_scan_but_only_a_pra_changes(env: Env) -> None:
    directory, _ = pim_setup(env)
    for role in (SECURITY_READER, GLOBAL_READER):
        reader = env.user(directory)
        grant(env, reader, role, MemberType.ACTIVE)
        with env.ctx(reader) as ctx:
            assert len(alerts.list_alerts(ctx, directory.id)) == 7
            alerts.scan_now(ctx, directory.id)
        with pytest.raises(Forbidden), env.ctx(reader) as ctx:
            alerts.update_config(ctx, directory.id, STALE, enabled=False)
    nobody = env.user(directory)
    with pytest.raises(Forbidden), env.ctx(nobody) as ctx:
        alerts.list_alerts(ctx, directory.id)


# --- scheduled scans ----------------------------------------------------------------------------


def test_scan_due_scans_each_directory_once_per_interval(env: Env) -> None:
    directory, _ = pim_setup(env)
    _stale_member(env, directory)
    env.directory()  # PIM not enabled: never scanned

    first = alerts.scan_due(env.runtime)
    assert first.directories == 1 and first.raised == 1
    assert alerts.scan_due(env.runtime).directories == 0
    env.clock.advance(alerts.DEFAULT_SCAN_INTERVAL - timedelta(seconds=1))
    assert alerts.scan_due(env.runtime).directories == 0
    env.clock.advance(timedelta(seconds=1))
    again = alerts.scan_due(env.runtime)
    assert again.directories == 1 and again.raised == 0
    with env.runtime.db.reader() as s:
        assert s.execute(select(func.count()).select_from(AlertIncident)).scalar_one() == 1
    (event,) = audit_actions(env, "alert.raised")
    assert event.actor_label == "system:alert-scanner"
