"""Roles assigned outside PIM: found by reconciling assignments with the requests that made them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from openpim.alerts import fixes
from openpim.alerts import service as alerts
from openpim.alerts.definitions import AlertType
from openpim.assignments import service as assignments
from openpim.assignments.models import Assignment, Eligibility, MemberType
from openpim.directory.service import bootstrap
from openpim.kit.errors import NotFound, ValidationFailed
from tests.alerts.helpers import (
    affected_keys,
    audit_actions,
    grant,
    open_incident_of,
    outbox_count,
    outcome,
    pim_setup,
)
from tests.factories import GA, PASSWORD_ADMIN, USER_ADMIN, Env

OUTSIDE = AlertType.OUTSIDE_PIM.value


def raw_assignment(
    env: Env, user_id: uuid.UUID, directory_id: uuid.UUID, role_id: uuid.UUID, **overrides: object
) -> uuid.UUID:
    """A row written straight into the assignments table, as an intruder or a sync would."""
    row_id = uuid.uuid4()
    values: dict[str, object] = {
        "id": row_id,
        "directory_id": directory_id,
        "principal_id": user_id,
        "role_id": role_id,
        "start_at": env.now - timedelta(minutes=1),
        "end_at": None,
        "request_id": None,
        "created_via": "pim",
        "created_at": env.now - timedelta(minutes=1),
        "assignment_type": "Assigned",
        "eligibility_id": None,
        **overrides,
    }
    with env.runtime.db.unit_of_work() as s:
        s.execute(insert(Assignment.__table__), [values])
    return row_id


def test_memberships_made_by_pim_raise_nothing(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    grant(env, user, USER_ADMIN, MemberType.ACTIVE, end=env.now + timedelta(days=30))
    grant(env, user, PASSWORD_ADMIN)
    assert outcome(env, directory, OUTSIDE).change == "clear"


def test_a_row_inserted_straight_into_the_table_raises_a_high_incident(env: Env) -> None:
    directory, _ = pim_setup(env)
    intruder = env.user(directory, "mallory")
    row_id = raw_assignment(env, intruder.id, directory.id, GA)

    result = outcome(env, directory, OUTSIDE)

    assert result.change == "raised" and result.affected == 1
    with env.ctx() as ctx:
        page = alerts.get_incident(ctx, result.incident_id)  # type: ignore[arg-type]
    assert page.incident.severity == "high"
    (item,) = page.items
    assert item.item_key == str(row_id)
    assert item.user_label == intruder.user_principal_name
    assert item.role_label == "Global Administrator"
    assert item.detail["reason"] == "no PIM request made this assignment"
    assert outbox_count(env, "alert.raised") == 1
    (event,) = audit_actions(env, "alert.raised")
    assert event.detail is not None and OUTSIDE in event.detail


def test_a_forged_flag_or_a_borrowed_request_does_not_hide_the_row(env: Env) -> None:
    directory, _ = pim_setup(env)
    honest = env.user(directory, "honest")
    request = grant(env, honest, USER_ADMIN, MemberType.ACTIVE)
    a = env.user(directory, "a")
    b = env.user(directory, "b")
    forged_flag = raw_assignment(env, a.id, directory.id, GA, created_via="bootstrap")
    borrowed = raw_assignment(env, b.id, directory.id, USER_ADMIN, request_id=request.id)

    assert affected_keys(env, directory, OUTSIDE) == {str(forged_flag), str(borrowed)}


def test_the_bootstrap_global_administrator_is_recognised_by_its_audit_event(env: Env) -> None:
    with env.ctx() as ctx:
        directory, admin, _secret = bootstrap(
            ctx,
            "Contoso",
            "contoso-boot.example",
            "admin@contoso-boot.example",
            "Admin",
            "correct horse battery staple",
        )
    assert outcome(env, directory, OUTSIDE).change == "clear"
    # A second "bootstrap" row written later is not blessed by the first one's event.
    other = env.user(directory, "late")
    late = raw_assignment(env, other.id, directory.id, GA, created_via="bootstrap")
    assert affected_keys(env, directory, OUTSIDE) == {str(late)}
    del admin


def test_activations_through_pim_are_not_flagged_but_forged_ones_are(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    grant(env, user, PASSWORD_ADMIN)
    from openpim.policies.schemas import RoleSettingsUpdate
    from openpim.policies.service import update_role_settings

    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=False)
        )
    with env.ctx(user) as ctx:
        assignments.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification="work",
        )
    assert outcome(env, directory, OUTSIDE).change == "clear"
    with env.runtime.db.reader() as s:
        eligibility_id = s.scalars(
            select(Eligibility.id).where(Eligibility.principal_id == user.id)
        ).one()
    forged = raw_assignment(
        env,
        user.id,
        directory.id,
        PASSWORD_ADMIN,
        assignment_type="Activated",
        eligibility_id=eligibility_id,
        end_at=env.now + timedelta(hours=2),
    )
    assert affected_keys(env, directory, OUTSIDE) == {str(forged)}


def test_an_ended_row_is_not_an_active_assignment(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    raw_assignment(
        env,
        user.id,
        directory.id,
        GA,
        start_at=env.now - timedelta(days=2),
        end_at=env.now - timedelta(days=1),
    )
    assert outcome(env, directory, OUTSIDE).change == "clear"


def test_fix_remove_ends_the_row_through_an_admin_request_and_resolves(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    row_id = raw_assignment(env, user.id, directory.id, USER_ADMIN)
    result = outcome(env, directory, OUTSIDE)

    with env.ctx() as ctx:
        fixed = fixes.fix(ctx, result.incident_id, "remove_assignment", [str(row_id)])  # type: ignore[arg-type]

    assert fixed.incident.status == "resolved" and fixed.rescan.change == "resolved"
    with env.runtime.db.reader() as s:
        row = s.get(Assignment, row_id)
        assert row is not None and row.ended_reason == "removed" and row.end_at == env.now
    (removed,) = audit_actions(env, "assignment.removed")
    assert removed.schedule_id == row_id and removed.request_id is not None
    (event,) = audit_actions(env, "alert.fixed")
    assert event.target_user_id == user.id and event.role_id == USER_ADMIN
    assert open_incident_of(env, directory, OUTSIDE) is None


def test_fix_make_eligible_converts_the_permanent_row(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    row_id = raw_assignment(env, user.id, directory.id, USER_ADMIN)
    result = outcome(env, directory, OUTSIDE)

    with env.ctx() as ctx:
        fixes.fix(ctx, result.incident_id, "make_eligible", [str(row_id)], "least privilege")  # type: ignore[arg-type]

    with env.runtime.db.reader() as s:
        row = s.get(Assignment, row_id)
        assert row is not None and row.ended_reason == "converted"
        eligibility = s.scalars(
            select(Eligibility).where(Eligibility.principal_id == user.id)
        ).one()
        assert eligibility.end_at is None and eligibility.request_id is not None
    assert outcome(env, directory, OUTSIDE).change == "clear"


def test_fix_refuses_other_actions_and_items_no_longer_affected(env: Env) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    row_id = raw_assignment(env, user.id, directory.id, USER_ADMIN)
    result = outcome(env, directory, OUTSIDE)
    assert result.incident_id is not None
    with pytest.raises(ValidationFailed) as refused, env.ctx() as ctx:
        fixes.fix(ctx, result.incident_id, "require_mfa", [str(row_id)])
    assert refused.value.field == "action"
    with pytest.raises(NotFound) as missing, env.ctx() as ctx:
        fixes.fix(ctx, result.incident_id, "remove_assignment", [str(uuid.uuid4())])
    assert missing.value.code == "item_not_affected"
