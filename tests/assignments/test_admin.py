from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.access.service import active_role_ids
from openpim.assignments import service
from openpim.assignments.models import (
    Assignment,
    Eligibility,
    EndReason,
    MemberType,
    RequestAction,
    RequestStatus,
)
from openpim.audit.models import AuditEvent
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.assignments.helpers import activate, assign
from tests.factories import GA, HELPDESK_ADMIN, PASSWORD_ADMIN, PRA, SECURITY_READER, Env


def _roles(env: Env, user_id, at=None):  # type: ignore[no-untyped-def]
    with env.runtime.db.reader() as s:
        return active_role_ids(s, user_id, at or env.now)


def test_pra_makes_user_eligible_and_it_is_audited(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    request = assign(env, admin, bob, GA, end_at=env.now + timedelta(days=30))
    assert request.action == RequestAction.ADMIN_ASSIGN
    assert request.status == RequestStatus.PROVISIONED
    with env.runtime.db.reader() as s:
        eligibility = s.scalars(select(Eligibility).where(Eligibility.principal_id == bob.id)).one()
        assert eligibility.request_id == request.id
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert event is not None
        assert (event.action, event.actor_label, event.target_label) == (
            "eligibility.added",
            admin.user_principal_name,
            bob.user_principal_name,
        )
    assert _roles(env, bob.id) == set()  # eligible is not active


def test_permanent_active_assignment(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, PASSWORD_ADMIN, MemberType.ACTIVE)
    assert _roles(env, bob.id, env.now + timedelta(days=3650)) == {PASSWORD_ADMIN}


def test_only_pra_can_assign(env: Env) -> None:
    directory, _ = env.pim_directory()
    reader = env.user(directory, "reader")
    env.permanent(reader, SECURITY_READER)
    env.permanent(reader, GA)  # a Global Administrator who is not PRA only reads
    bob = env.user(directory, "bob")
    with pytest.raises(Forbidden) as err:
        assign(env, reader, bob, GA)
    assert err.value.code == "not_privileged_role_administrator"


def test_external_pra_cannot_manage(env: Env) -> None:
    directory, _ = env.pim_directory()
    guest = env.user(directory, "guest", external=True)
    env.permanent(guest, PRA)
    bob = env.user(directory, "bob")
    with pytest.raises(Forbidden):
        assign(env, guest, bob, GA)


def test_assignment_shorter_than_five_minutes_refused(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    with pytest.raises(ValidationFailed) as err:
        assign(env, admin, bob, GA, end_at=env.now + timedelta(minutes=4))
    assert err.value.code == "duration_too_short"


def test_overlapping_assignment_is_409(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, GA)
    with pytest.raises(Conflict) as err:
        assign(env, admin, bob, GA)
    assert err.value.code == "role_assignment_exists"


def test_removing_eligibility_ends_its_activations(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, PASSWORD_ADMIN)
    activate(env, bob, PASSWORD_ADMIN)
    assert _roles(env, bob.id) == {PASSWORD_ADMIN}
    env.clock.advance(timedelta(minutes=1))
    with env.ctx(admin) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE,
        )
    assert _roles(env, bob.id) == set()
    with env.runtime.db.reader() as s:
        activation = s.scalars(select(Assignment).where(Assignment.principal_id == bob.id)).one()
        assert activation.ended_reason == EndReason.ELIGIBILITY_ENDED
        assert activation.end_recorded_at == env.now


def test_removing_last_global_administrator_refused(env: Env) -> None:
    directory, admin = env.pim_directory()
    with pytest.raises(Conflict) as err, env.ctx(admin) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=admin.id,
            role_id=GA,
            member_type=MemberType.ACTIVE,
        )
    assert err.value.code == "last_global_administrator"
    assert _roles(env, admin.id) >= {GA}


def test_removing_one_of_two_global_administrators_allowed(env: Env) -> None:
    directory, admin = env.pim_directory()
    other = env.user(directory, "other")
    env.permanent(other, GA)
    with env.ctx(admin) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=other.id,
            role_id=GA,
            member_type=MemberType.ACTIVE,
        )
    assert GA not in _roles(env, other.id)


def test_making_last_pra_time_bound_refused(env: Env) -> None:
    directory, admin = env.pim_directory()
    with pytest.raises(Conflict) as err, env.ctx(admin) as ctx:
        service.admin_update(
            ctx,
            directory_id=directory.id,
            principal_id=admin.id,
            role_id=PRA,
            member_type=MemberType.ACTIVE,
            end_at=env.now + timedelta(days=1),
        )
    assert err.value.code == "last_privileged_role_administrator"


def test_remove_nothing_is_404(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    with pytest.raises(NotFound), env.ctx(admin) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
        )


def test_extend_and_update(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, GA, end_at=env.now + timedelta(days=10))
    with pytest.raises(ValidationFailed), env.ctx(admin) as ctx:
        service.admin_extend(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=5),
        )
    with env.ctx(admin) as ctx:
        service.admin_extend(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=20),
        )
    with env.runtime.db.reader() as s:
        row = s.scalars(select(Eligibility).where(Eligibility.principal_id == bob.id)).one()
        assert row.end_at == env.now + timedelta(days=20)


def test_shortening_eligibility_shortens_activation(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, PASSWORD_ADMIN)
    activate(env, bob, PASSWORD_ADMIN, timedelta(hours=4))
    with env.ctx(admin) as ctx:
        service.admin_update(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(hours=1),
        )
    assert _roles(env, bob.id, env.now + timedelta(minutes=59)) == {PASSWORD_ADMIN}
    assert _roles(env, bob.id, env.now + timedelta(hours=1)) == set()


def test_renew_expired(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, GA, end_at=env.now + timedelta(days=1))
    with pytest.raises(Conflict), env.ctx(admin) as ctx:
        service.admin_renew(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=30),
        )
    env.clock.advance(timedelta(days=2))
    with env.ctx(admin) as ctx:
        request = service.admin_renew(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=30),
        )
    assert request.action == RequestAction.ADMIN_RENEW


def test_make_permanent_and_make_eligible(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, PASSWORD_ADMIN)
    with env.ctx(admin) as ctx:
        service.make_permanent(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=PASSWORD_ADMIN
        )
    assert _roles(env, bob.id) == {PASSWORD_ADMIN}
    with env.ctx(admin) as ctx:
        service.make_eligible(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=PASSWORD_ADMIN
        )
    assert _roles(env, bob.id) == set()
    with env.ctx(admin) as ctx:
        roles = service.user_roles(ctx, directory.id, bob.id)
    assert [(r.member_type, r.state) for r in roles] == [(MemberType.ELIGIBLE, "active")]


def test_policy_forbids_permanent_eligibility(env: Env) -> None:
    from tests.assignments.test_activate import _set_policy

    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    _set_policy(
        env, directory.id, PASSWORD_ADMIN, eligible_allow_permanent=False, eligible_max_days=30
    )
    with pytest.raises(ValidationFailed) as err:
        assign(env, admin, bob, PASSWORD_ADMIN)
    assert err.value.code == "permanent_not_allowed"
    with pytest.raises(ValidationFailed) as err:
        assign(env, admin, bob, PASSWORD_ADMIN, end_at=env.now + timedelta(days=31))
    assert err.value.code == "assignment_too_long"
    assign(env, admin, bob, PASSWORD_ADMIN, end_at=env.now + timedelta(days=30))


def test_readers_see_members_but_others_only_themselves(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    carol = env.user(directory, "carol")
    assign(env, admin, bob, GA)
    with env.ctx(admin) as ctx:
        page = service.member_page(ctx, directory.id, role_id=GA)
        assert {m.principal for m in page.items} == {
            admin.user_principal_name,
            bob.user_principal_name,
        }
    with env.ctx(bob) as ctx:
        assert len(service.user_roles(ctx, directory.id, bob.id)) == 1
    with pytest.raises(Forbidden), env.ctx(carol) as ctx:
        service.user_roles(ctx, directory.id, bob.id)
    with pytest.raises(Forbidden), env.ctx(carol) as ctx:
        service.member_page(ctx, directory.id)


def test_make_permanent_has_no_end_and_respects_the_policy(env: Env) -> None:
    from tests.assignments.test_activate import _set_policy

    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, PASSWORD_ADMIN, end_at=env.now + timedelta(days=30))
    with env.ctx(admin) as ctx:
        service.make_permanent(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=PASSWORD_ADMIN
        )
    assert _roles(env, bob.id, env.now + timedelta(days=3650)) == {PASSWORD_ADMIN}
    carol = env.user(directory, "carol")
    _set_policy(env, directory.id, HELPDESK_ADMIN, active_allow_permanent=False)
    assign(env, admin, carol, HELPDESK_ADMIN)
    with pytest.raises(ValidationFailed) as err, env.ctx(admin) as ctx:
        service.make_permanent(
            ctx, directory_id=directory.id, principal_id=carol.id, role_id=HELPDESK_ADMIN
        )
    assert err.value.code == "permanent_not_allowed"


def test_activation_body_takes_only_iso_durations() -> None:
    import uuid

    from pydantic import ValidationError

    from openpim.assignments.schemas import ActivateIn

    role = uuid.uuid4()
    assert ActivateIn(role_id=role, duration="PT1H").duration == timedelta(hours=1)  # type: ignore[arg-type]
    for bad in (3600, "3600", "1 hour", True):
        with pytest.raises(ValidationError):
            ActivateIn(role_id=role, duration=bad)  # type: ignore[arg-type]
