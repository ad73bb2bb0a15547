from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.access.service import active_role_ids
from openpim.assignments import service as assignments
from openpim.assignments.models import Assignment, RequestStatus, RoleRequest
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.models import AuthToken
from openpim.auth.tokens import authenticate
from openpim.directory import status
from openpim.directory.models import User
from openpim.directory.service import disable_user, enable_user
from openpim.kit.errors import Conflict, Forbidden, Unauthorized
from openpim.notifications.models import OutboxMessage
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.auth.helpers import activation, audit_events, reload, session
from tests.factories import GA, PASSWORD_ADMIN, PRA, SECURITY_ADMIN, USER_ADMIN, Env


def test_disabling_ends_sessions_and_running_activations(env: Env) -> None:
    directory, admin = env.pim_directory()
    alice = env.user(directory, "alice")
    raw, token = session(env, alice)
    env.eligible(alice, SECURITY_ADMIN)
    running = activation(env, alice, SECURITY_ADMIN, start=env.now - timedelta(minutes=10))
    future = activation(env, alice, PRA, start=env.now + timedelta(hours=2))
    finished = activation(env, alice, GA, start=env.now - timedelta(hours=3))  # ended 2 h ago
    permanent = env.permanent(alice, USER_ADMIN)
    env.clock.advance(timedelta(minutes=1))

    with env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, alice.id)

    stored = reload(env, User, alice.id)
    assert not stored.enabled and stored.disabled_at == env.now
    assert reload(env, AuthToken, token.id).revoked_at == env.now
    with pytest.raises(Unauthorized), env.runtime.unit(anonymous_actor()) as ctx:
        authenticate(ctx, raw)
    for ended, end in ((running, env.now), (future, future.start_at)):
        # A scheduled activation is cancelled: its window closes at its own start.
        row = reload(env, Assignment, ended.id)
        assert (row.end_at, row.ended_reason, row.end_recorded_at) == (
            end,
            "user_disabled",
            env.now,
        )
    assert reload(env, Assignment, finished.id).ended_reason is None
    assert reload(env, Assignment, permanent.id).end_at is None
    events = audit_events(env, "activation.ended")
    assert {e.schedule_id for e in events} == {running.id, future.id}
    assert all(json.loads(e.detail or "{}")["reason"] == "user_disabled" for e in events)
    assert {e.role_label for e in events} == {
        "Security Administrator",
        "Privileged Role Administrator",
    }
    with env.runtime.db.reader() as s:
        outbox = (
            s.execute(select(OutboxMessage).where(OutboxMessage.event_type == "activation.ended"))
            .scalars()
            .all()
        )
        assert {m.payload["schedule_id"] for m in outbox} == {str(running.id), str(future.id)}
        assert active_role_ids(s, alice.id, env.now) == set()
    [event] = audit_events(env, "user.disabled")
    detail = json.loads(event.detail or "{}")
    assert (detail["tokens_revoked"], detail["activations_ended"]) == (1, 2)
    assert event.actor_id == admin.id


def test_enabling_restores_permanent_roles_but_not_ended_activations(env: Env) -> None:
    directory, admin = env.pim_directory()
    alice = env.user(directory, "alice")
    env.permanent(alice, USER_ADMIN)
    activation(env, alice, SECURITY_ADMIN)
    with env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, alice.id)
    env.clock.advance(timedelta(minutes=5))

    with env.ctx(admin) as ctx:
        enable_user(ctx, directory.id, alice.id)

    stored = reload(env, User, alice.id)
    assert stored.enabled and stored.disabled_at is None
    with env.runtime.db.reader() as s:
        assert active_role_ids(s, alice.id, env.now) == {USER_ADMIN}
    assert len(audit_events(env, "user.enabled")) == 1
    with pytest.raises(Conflict) as caught, env.ctx(admin) as ctx:
        enable_user(ctx, directory.id, alice.id)
    assert caught.value.code == "already_enabled"


def test_disabling_twice_is_a_conflict(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob", enabled=False)
    with pytest.raises(Conflict) as caught, env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, bob.id)
    assert caught.value.code == "already_disabled"


def test_the_last_global_administrator_cannot_be_disabled(env: Env) -> None:
    directory = env.directory()
    ga = env.user(directory, "ga")
    env.permanent(ga, GA)
    other_ga = env.user(directory, "other", enabled=False)  # disabled holders do not count
    env.permanent(other_ga, GA)
    expired_ga = env.user(directory, "expired")
    env.permanent(expired_ga, GA, end=env.now)  # nor do ended assignments

    with pytest.raises(Conflict) as caught, env.ctx() as ctx:
        disable_user(ctx, directory.id, ga.id)
    assert caught.value.code == "last_global_administrator"
    assert reload(env, User, ga.id).enabled
    assert audit_events(env, "user.disabled") == []

    second = env.user(directory, "second")
    activation(env, second, GA)  # an activated GA counts while active
    with env.ctx() as ctx:
        disable_user(ctx, directory.id, ga.id)
    assert not reload(env, User, ga.id).enabled


def test_the_last_privileged_role_administrator_cannot_be_disabled(env: Env) -> None:
    directory = env.directory()
    pra = env.user(directory, "pra")
    env.permanent(pra, PRA)
    foreign = env.directory()
    env.permanent(env.user(foreign, "elsewhere"), PRA)  # another directory's PRA does not count

    with pytest.raises(Conflict) as caught, env.ctx() as ctx:
        disable_user(ctx, directory.id, pra.id)
    assert caught.value.code == "last_privileged_role_administrator"


def test_holders_of_eligible_only_roles_are_not_protected(env: Env) -> None:
    directory = env.directory()
    eligible = env.user(directory, "eligible")
    env.eligible(eligible, GA)
    with env.ctx() as ctx:
        disable_user(ctx, directory.id, eligible.id)
    assert not reload(env, User, eligible.id).enabled


def test_disable_needs_a_user_administrator_and_not_oneself(env: Env) -> None:
    directory, _admin = env.pim_directory()
    alice = env.user(directory, "alice")
    bob = env.user(directory, "bob")
    with pytest.raises(Forbidden), env.ctx(bob) as ctx:
        disable_user(ctx, directory.id, alice.id)
    user_admin = env.user(directory, "helpdesk")
    env.permanent(user_admin, USER_ADMIN)
    with pytest.raises(Conflict) as caught, env.ctx(user_admin) as ctx:
        disable_user(ctx, directory.id, user_admin.id)
    assert caught.value.code == "cannot_disable_self"
    with env.ctx(user_admin) as ctx:
        disable_user(ctx, directory.id, alice.id)


# --- pending requests -----------------------------------------------------------------------


def _approval_required(env: Env, directory_id, approvers=()):  # type: ignore[no-untyped-def]
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory_id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(
                require_approval_on_activation=True, approver_ids=[a.id for a in approvers]
            ),
        )


def _request(env: Env, user: User) -> RoleRequest:
    with env.ctx(env.actor(user, mfa=True)) as ctx:
        return assignments.self_activate(
            ctx,
            directory_id=user.directory_id,
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification="incident 42",
        )


def test_disabling_withdraws_the_users_pending_requests(env: Env) -> None:
    directory, admin = env.pim_directory()
    _approval_required(env, directory.id)
    bob, carol = env.user(directory, "bob"), env.user(directory, "carol")
    for user in (bob, carol):
        env.eligible(user, PASSWORD_ADMIN)
    mine, theirs = _request(env, bob), _request(env, carol)
    assert mine.status == theirs.status == RequestStatus.PENDING_APPROVAL
    env.clock.advance(timedelta(minutes=1))

    with env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, bob.id)

    withdrawn = reload(env, RoleRequest, mine.id)
    assert (withdrawn.status, withdrawn.decided_at, withdrawn.decided_by_id) == (
        RequestStatus.CANCELED,
        env.now,
        admin.id,
    )
    assert reload(env, RoleRequest, theirs.id).status == RequestStatus.PENDING_APPROVAL
    [canceled] = audit_events(env, "request.canceled")
    assert (canceled.request_id, canceled.target_user_id) == (mine.id, bob.id)
    assert json.loads(canceled.detail or "{}")["reason"] == "user_disabled"
    [disabled] = audit_events(env, "user.disabled")
    assert json.loads(disabled.detail or "{}")["requests_canceled"] == 1
    assert canceled.seq < disabled.seq
    with pytest.raises(Conflict) as late, env.ctx(admin) as ctx:
        assignments.approve(ctx, mine.id, "too late")
    assert late.value.code == "request_already_decided"
    with env.runtime.db.reader() as s:
        assert active_role_ids(s, bob.id, env.now) == set()


def test_the_withdrawal_commits_with_the_disable_or_not_at_all(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, admin = env.pim_directory()
    _approval_required(env, directory.id)
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = _request(env, bob)

    def audit_store_down(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(status, "audit", audit_store_down)  # the user.disabled line fails
    with pytest.raises(RuntimeError), env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, bob.id)

    assert reload(env, RoleRequest, request.id).status == RequestStatus.PENDING_APPROVAL
    assert reload(env, User, bob.id).enabled
    assert audit_events(env, "request.canceled") == []


def test_a_disabled_approver_cannot_decide_but_the_other_approvers_can(env: Env) -> None:
    directory, admin = env.pim_directory()
    carol, dave = env.user(directory, "carol"), env.user(directory, "dave")
    _approval_required(env, directory.id, approvers=(carol, dave))
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = _request(env, bob)

    with env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, carol.id)

    # The request waits on: it is bob's, not carol's, and dave can still decide it.
    assert reload(env, RoleRequest, request.id).status == RequestStatus.PENDING_APPROVAL
    for decide in (assignments.approve, assignments.deny):
        with pytest.raises(Forbidden) as refused, env.ctx(env.actor(carol)) as ctx:
            decide(ctx, request.id, "from a disabled account")
        assert refused.value.code == "account_disabled"
    assert reload(env, RoleRequest, request.id).status == RequestStatus.PENDING_APPROVAL
    with env.ctx(env.actor(dave)) as ctx:
        assert assignments.approve(ctx, request.id, "ok").status == RequestStatus.PROVISIONED


def test_a_disabled_pra_cannot_decide_where_the_pras_approve(env: Env) -> None:
    directory, admin = env.pim_directory()
    second = env.user(directory, "second")
    env.permanent(second, PRA)
    _approval_required(env, directory.id)  # no named approvers: the PRAs decide
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = _request(env, bob)
    with env.ctx(admin) as ctx:
        disable_user(ctx, directory.id, second.id)

    with pytest.raises(Forbidden) as refused, env.ctx(env.actor(second)) as ctx:
        assignments.approve(ctx, request.id, "ok")

    assert refused.value.code == "account_disabled"
    with env.ctx(admin) as ctx:
        assert assignments.approve(ctx, request.id, "ok").status == RequestStatus.PROVISIONED
