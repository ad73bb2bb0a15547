from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.access.service import active_role_ids
from openpim.assignments import service
from openpim.assignments.models import Assignment, RequestStatus
from openpim.audit.models import AuditEvent
from openpim.kit.errors import Conflict, Forbidden, MfaRequired, Unauthorized, ValidationFailed
from openpim.notifications.models import OutboxMessage
from openpim.policies.models import RolePolicy
from tests.assignments.helpers import activate
from tests.factories import GA, PASSWORD_ADMIN, Env


def _roles(env: Env, user_id, at=None):  # type: ignore[no-untyped-def]
    with env.runtime.db.reader() as s:
        return active_role_ids(s, user_id, at or env.now)


def _set_policy(env: Env, directory_id, role_id, **values):  # type: ignore[no-untyped-def]
    """Store a role policy row directly (the policy service has its own tests)."""
    base = dict(
        activation_max_seconds=8 * 3600,
        require_mfa_on_activation=True,
        require_justification_on_activation=True,
        require_ticket_on_activation=False,
        require_approval_on_activation=False,
        approver_ids=[],
        notify_default_recipients=True,
        notify_extra_recipients=[],
        eligible_allow_permanent=True,
        eligible_max_days=365,
        active_allow_permanent=True,
        active_max_days=180,
        require_mfa_on_active_assignment=False,
        require_justification_on_active_assignment=True,
    )
    base.update(values)
    with env.runtime.db.unit_of_work() as s:
        s.add(RolePolicy(directory_id=directory_id, role_id=role_id, updated_at=env.now, **base))


def test_eligible_user_activates_and_role_ends_on_time(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    request = activate(env, bob, GA, timedelta(hours=2), totp_code=None)
    assert request.status == RequestStatus.PROVISIONED
    assert _roles(env, bob.id) == {GA}
    assert _roles(env, bob.id, env.now + timedelta(hours=2) - timedelta(microseconds=1)) == {GA}
    assert _roles(env, bob.id, env.now + timedelta(hours=2)) == set()
    with env.runtime.db.reader() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert actions[-1] == "activation.activated"
        assert s.scalars(select(OutboxMessage.event_type)).all() == ["role.activated"]


def test_activation_needs_eligibility(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    with pytest.raises(Forbidden) as err:
        activate(env, bob, GA)
    assert err.value.code == "not_eligible"


def test_activation_refused_before_pim_enabled(env: Env) -> None:
    directory = env.directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    with pytest.raises(Conflict) as err:
        activate(env, bob, GA)
    assert err.value.code == "pim_not_enabled"


@pytest.mark.parametrize("duration", [timedelta(minutes=4), timedelta(hours=8, seconds=1)])
def test_duration_bounds(env: Env, duration: timedelta) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    with pytest.raises(ValidationFailed) as err:
        activate(env, bob, GA, duration)
    assert err.value.field == "duration"


def test_activation_never_outlives_eligibility(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA, duration=timedelta(minutes=30))
    request = activate(env, bob, GA, timedelta(hours=4))
    assert request.end_at == env.now + timedelta(minutes=30)
    env.clock.advance(timedelta(minutes=27))
    env.clock.advance(timedelta(minutes=0))
    with env.runtime.db.reader() as s:
        assert s.scalars(select(Assignment).where(Assignment.principal_id == bob.id)).one()


def test_activation_refused_when_eligibility_ends_within_five_minutes(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA, duration=timedelta(minutes=4))
    with pytest.raises(Conflict) as err:
        activate(env, bob, GA)
    assert err.value.code == "eligibility_ends_too_soon"


def test_future_start(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    start = env.now + timedelta(hours=3)
    activate(env, bob, GA, start_at=start)
    assert _roles(env, bob.id) == set()
    assert _roles(env, bob.id, start) == {GA}


def test_start_in_the_past_refused(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    with pytest.raises(ValidationFailed) as err:
        activate(env, bob, GA, start_at=env.now - timedelta(hours=1))
    assert err.value.field == "start_at"


def test_already_active_is_409(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    activate(env, bob, GA)
    with pytest.raises(Conflict) as err:
        activate(env, bob, GA)
    assert err.value.code == "already_active"


def test_justification_required_by_default(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    with pytest.raises(ValidationFailed) as err:
        activate(env, bob, GA, justification="   ")
    assert err.value.code == "justification_required"


def test_ticket_required_when_configured(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    _set_policy(env, directory.id, PASSWORD_ADMIN, require_ticket_on_activation=True)
    with pytest.raises(ValidationFailed) as err:
        activate(env, bob, PASSWORD_ADMIN, ticket_number="INC-1")
    assert err.value.code == "ticket_required"
    request = activate(env, bob, PASSWORD_ADMIN, ticket_number="INC-1", ticket_system="ServiceNow")
    assert request.ticket_system == "ServiceNow"


class TestMfa:
    def test_without_fresh_proof_a_code_is_needed(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, GA)
        with pytest.raises(MfaRequired):
            activate(env, bob, GA, mfa=False)
        activate(env, bob, GA, mfa=False, totp_code=env.totp(bob))
        assert _roles(env, bob.id) == {GA}

    def test_wrong_code_refused(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, GA)
        with pytest.raises(Unauthorized) as err:
            activate(env, bob, GA, mfa=False, totp_code="000000")
        assert err.value.code == "invalid_mfa_code"
        assert _roles(env, bob.id) == set()

    def test_session_proof_goes_stale(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, GA)
        actor = env.actor(bob, mfa=True)
        env.clock.advance(timedelta(minutes=16))
        with pytest.raises(MfaRequired), env.ctx(actor) as ctx:
            service.self_activate(
                ctx,
                directory_id=directory.id,
                role_id=GA,
                duration=timedelta(hours=1),
                justification="x",
            )

    def test_api_tokens_never_carry_proof(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, GA)
        actor = env.actor(bob, mfa=True, token_kind="api")
        with pytest.raises(MfaRequired), env.ctx(actor) as ctx:
            service.self_activate(
                ctx,
                directory_id=directory.id,
                role_id=GA,
                duration=timedelta(hours=1),
                justification="x",
            )

    def test_code_is_accepted_once(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, GA)
        env.eligible(bob, PASSWORD_ADMIN)
        code = env.totp(bob)
        activate(env, bob, GA, mfa=False, totp_code=code)
        with pytest.raises(Unauthorized):
            activate(env, bob, PASSWORD_ADMIN, mfa=False, totp_code=code)

    def test_not_enrolled(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob", mfa=False)
        env.eligible(bob, GA)
        with pytest.raises(Forbidden) as err:
            activate(env, bob, GA, mfa=False, totp_code="123456")
        assert err.value.code == "mfa_not_enrolled"

    def test_role_without_mfa_needs_no_code(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, PASSWORD_ADMIN)
        _set_policy(env, directory.id, PASSWORD_ADMIN, require_mfa_on_activation=False)
        activate(env, bob, PASSWORD_ADMIN, mfa=False)
        assert _roles(env, bob.id) == {PASSWORD_ADMIN}


class TestDeactivate:
    def test_not_within_five_minutes(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        env.eligible(bob, PASSWORD_ADMIN)
        activate(env, bob, PASSWORD_ADMIN)
        env.clock.advance(timedelta(minutes=4))
        with pytest.raises(Conflict) as err, env.ctx(bob) as ctx:
            service.self_deactivate(ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN)
        assert err.value.code == "deactivation_too_soon"
        env.clock.advance(timedelta(minutes=1))
        with env.ctx(bob) as ctx:
            service.self_deactivate(ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN)
        assert _roles(env, bob.id) == set()

    def test_nothing_to_deactivate(self, env: Env) -> None:
        directory, _ = env.pim_directory()
        bob = env.user(directory, "bob")
        with pytest.raises(Exception) as err, env.ctx(bob) as ctx:
            service.self_deactivate(ctx, directory_id=directory.id, role_id=GA)
        assert getattr(err.value, "code", None) == "not_active"

    def test_last_global_administrator_cannot_deactivate(self, env: Env) -> None:
        directory = env.directory()
        only = env.user(directory, "only")
        env.eligible(only, GA)
        with env.runtime.db.unit_of_work() as s:
            from openpim.directory.models import Directory

            d = s.get(Directory, directory.id)
            assert d is not None
            d.pim_enabled_at = env.now
        activate(env, only, GA)
        env.clock.advance(timedelta(minutes=10))
        with pytest.raises(Conflict) as err, env.ctx(only) as ctx:
            service.self_deactivate(ctx, directory_id=directory.id, role_id=GA)
        assert err.value.code == "last_global_administrator"


def test_wrong_mfa_codes_are_counted_audited_and_rate_limited(env: Env) -> None:
    from openpim.kit.errors import RateLimited

    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, GA)
    limit = env.runtime.settings.sign_in_failures_per_user
    for _ in range(limit):
        with pytest.raises(Unauthorized):
            activate(env, bob, GA, mfa=False, totp_code="000000")
    # The limit is reached: even the right code is refused until the window passes.
    with pytest.raises(RateLimited):
        activate(env, bob, GA, mfa=False, totp_code=env.totp(bob))
    with env.runtime.db.reader() as s:
        failures = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "auth.mfa_failed")
        ).all()
    assert len(failures) == limit + 1
    assert _roles(env, bob.id) == set()
    env.clock.advance(env.runtime.settings.sign_in_failure_window + timedelta(seconds=1))
    activate(env, bob, GA, mfa=False, totp_code=env.totp(bob))
    assert _roles(env, bob.id) == {GA}
