from __future__ import annotations

from datetime import timedelta

import pytest

from openpim.access.service import active_role_ids
from openpim.assignments import service
from openpim.assignments.models import MemberType, RequestStatus
from openpim.directory.models import User
from openpim.kit.errors import Conflict, Forbidden, ValidationFailed
from tests.assignments.helpers import activate, assign
from tests.assignments.test_activate import _set_policy
from tests.factories import GA, PASSWORD_ADMIN, Env


def _roles(env: Env, user_id, at=None):  # type: ignore[no-untyped-def]
    with env.runtime.db.reader() as s:
        return active_role_ids(s, user_id, at or env.now)


def _approval_role(env: Env, approvers=()):  # type: ignore[no-untyped-def]
    directory, admin = env.pim_directory()
    _set_policy(
        env,
        directory.id,
        PASSWORD_ADMIN,
        require_approval_on_activation=True,
        approver_ids=[str(a.id) for a in approvers],
    )
    return directory, admin


def test_request_waits_then_approver_grants(env: Env) -> None:
    directory, admin = _approval_role(env)
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN, timedelta(hours=2))
    assert request.status == RequestStatus.PENDING_APPROVAL
    assert _roles(env, bob.id) == set()
    env.clock.advance(timedelta(minutes=30))
    with env.ctx(admin) as ctx:
        assert [r.id for r in service.awaiting_my_decision(ctx, directory.id)] == [request.id]
        approved = service.approve(ctx, request.id, "looks right")
    assert approved.status == RequestStatus.PROVISIONED
    # Approved later than asked: the user still gets the full two hours from approval.
    assert _roles(env, bob.id, env.now + timedelta(hours=2) - timedelta(seconds=1)) == {
        PASSWORD_ADMIN
    }


def test_named_approver_only(env: Env) -> None:
    directory, admin = env.pim_directory()
    approver = env.user(directory, "approver")
    _set_policy(
        env,
        directory.id,
        PASSWORD_ADMIN,
        require_approval_on_activation=True,
        approver_ids=[str(approver.id)],
    )
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN)
    with pytest.raises(Forbidden), env.ctx(admin) as ctx:
        service.approve(ctx, request.id, "ok")  # a PRA is not a named approver here
    with env.ctx(approver) as ctx:
        service.approve(ctx, request.id, "ok")
    assert _roles(env, bob.id) == {PASSWORD_ADMIN}


def test_pras_decide_when_no_named_approver_can(env: Env) -> None:
    """Named approvers who are disabled, or who are the asker, cannot act: the PRAs decide
    rather than the request waiting out its deadline. Anyone else still cannot."""
    directory, admin = env.pim_directory()
    approver = env.user(directory, "approver")
    bob = env.user(directory, "bob")
    carol = env.user(directory, "carol")
    _set_policy(
        env,
        directory.id,
        PASSWORD_ADMIN,
        require_approval_on_activation=True,
        approver_ids=[str(approver.id), str(bob.id)],
    )
    env.eligible(bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN)
    with env.ctx(admin) as ctx:
        assert service.awaiting_my_decision(ctx, directory.id) == []  # the approver can act
    with env.runtime.db.unit_of_work() as s:
        gone = s.get(User, approver.id)
        assert gone is not None
        gone.enabled = False
    with pytest.raises(Forbidden) as err, env.ctx(carol) as ctx:
        service.approve(ctx, request.id, "not mine to decide")
    assert err.value.code == "not_an_approver"
    with env.ctx(admin) as ctx:
        assert [r.id for r in service.awaiting_my_decision(ctx, directory.id)] == [request.id]
        service.approve(ctx, request.id, "the named approver has left")
    assert _roles(env, bob.id) == {PASSWORD_ADMIN}


def test_nobody_approves_their_own_request(env: Env) -> None:
    _, admin = _approval_role(env)
    env.eligible(admin, PASSWORD_ADMIN)
    request = activate(env, admin, PASSWORD_ADMIN)
    with pytest.raises(Forbidden) as err, env.ctx(admin) as ctx:
        service.approve(ctx, request.id, "me")
    assert err.value.code == "cannot_approve_own_request"


def test_first_decision_wins(env: Env) -> None:
    directory, admin = _approval_role(env)
    other = env.user(directory, "pra2")
    from tests.factories import PRA

    env.permanent(other, PRA)
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN)
    with env.ctx(admin) as ctx:
        service.deny(ctx, request.id, "not now")
    with pytest.raises(Conflict) as err, env.ctx(other) as ctx:
        service.approve(ctx, request.id, "ok")
    assert err.value.code == "request_already_decided"
    assert _roles(env, bob.id) == set()


def test_decision_needs_justification(env: Env) -> None:
    directory, admin = _approval_role(env)
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN)
    with pytest.raises(ValidationFailed), env.ctx(admin) as ctx:
        service.approve(ctx, request.id, " ")


def test_requester_cancels_and_second_pending_is_409(env: Env) -> None:
    directory, _ = _approval_role(env)
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN)
    with pytest.raises(Conflict) as err:
        activate(env, bob, PASSWORD_ADMIN)
    assert err.value.code == "request_pending"
    with env.ctx(bob) as ctx:
        assert service.cancel(ctx, request.id).status == RequestStatus.CANCELED
    activate(env, bob, PASSWORD_ADMIN)


def test_approval_fails_cleanly_when_eligibility_removed(env: Env) -> None:
    directory, admin = _approval_role(env)
    bob = env.user(directory, "bob")
    assign(env, admin, bob, PASSWORD_ADMIN)
    request = activate(env, bob, PASSWORD_ADMIN)
    with env.ctx(admin) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=bob.id,
            role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE,
        )
    with env.ctx(admin) as ctx:
        result = service.approve(ctx, request.id, "ok")
    assert result.status == RequestStatus.FAILED
    assert _roles(env, bob.id) == set()


def test_self_extend_approved_by_pra(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, GA, end_at=env.now + timedelta(days=20))
    with pytest.raises(Conflict) as err, env.ctx(bob) as ctx:
        service.self_extend(
            ctx,
            directory_id=directory.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=60),
            justification="project",
        )
    assert err.value.code == "extension_too_early"
    env.clock.advance(timedelta(days=10))
    with env.ctx(bob) as ctx:
        request = service.self_extend(
            ctx,
            directory_id=directory.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=60),
            justification="project",
        )
    assert request.status == RequestStatus.PENDING_ADMIN_DECISION
    with env.ctx(admin) as ctx:
        assert service.approve(ctx, request.id, "ok").status == RequestStatus.PROVISIONED
    with env.ctx(bob) as ctx:
        (row,) = service.user_roles(ctx, directory.id, bob.id)
    assert row.end_at == env.now + timedelta(days=60)


def test_self_renew_within_thirty_days(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    assign(env, admin, bob, GA, end_at=env.now + timedelta(days=1))
    env.clock.advance(timedelta(days=5))
    with env.ctx(bob) as ctx:
        request = service.self_renew(
            ctx,
            directory_id=directory.id,
            role_id=GA,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=90),
            justification="still on call",
        )
    with env.ctx(admin) as ctx:
        service.approve(ctx, request.id, "ok")
    with env.ctx(bob) as ctx:
        assert len(service.user_roles(ctx, directory.id, bob.id)) == 1
