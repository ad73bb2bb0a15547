from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from openpim.assignments.models import RequestStatus, RoleRequest
from tests.factories import PASSWORD_ADMIN, SECURITY_READER, Env
from tests.worker.helpers import assert_chain_intact, audit_events, outbox, request, worker


def test_a_request_nobody_decides_times_out_after_24_hours_exactly_once(env: Env) -> None:
    directory = env.directory()
    bob = env.user(directory, "bob")
    created = env.now
    pending = env.pending_request(bob, PASSWORD_ADMIN, deadline=timedelta(hours=24))

    env.clock.advance(timedelta(hours=24) - timedelta(microseconds=1))
    assert worker(env).run_once().requests_timed_out == 0
    assert request(env, pending.id).status == RequestStatus.PENDING_APPROVAL

    env.clock.advance(timedelta(microseconds=1))
    assert worker(env).run_once().requests_timed_out == 1
    env.clock.advance(timedelta(days=3))
    assert worker(env).run_once().total == 0

    row = request(env, pending.id)
    assert row.status == RequestStatus.TIMED_OUT
    assert row.decided_at == created + timedelta(hours=24)
    assert row.decided_by_id is None

    [event] = audit_events(env)
    assert event.action == "request.timed_out"
    assert event.actor_label == "system:worker"
    assert (event.request_id, event.target_user_id) == (pending.id, bob.id)
    assert event.target_label == bob.user_principal_name
    assert event.role_label == "Password Administrator"
    assert event.justification == "fix the mail flow"
    assert event.directory_id == directory.id
    detail = json.loads(event.detail or "{}")
    assert detail["previous_status"] == "PendingApproval"
    assert detail["request_action"] == "selfActivate"

    [message] = outbox(env)
    assert message.event_type == "request.timed_out"
    assert message.payload["request_id"] == str(pending.id)
    assert message.payload["requested_by"] == bob.user_principal_name
    assert message.directory_id == directory.id
    assert_chain_intact(env)


def test_admin_decisions_time_out_too_and_decided_requests_are_left_alone(env: Env) -> None:
    directory = env.directory()
    carol, dave, erin = (env.user(directory) for _ in range(3))
    admin_decision = env.pending_request(
        carol, SECURITY_READER, status=RequestStatus.PENDING_ADMIN_DECISION
    )
    approved = env.pending_request(dave, SECURITY_READER)
    no_deadline = env.pending_request(erin, SECURITY_READER, deadline=None)
    with env.runtime.db.unit_of_work() as s:
        s.execute(
            update(RoleRequest)
            .where(RoleRequest.id == approved.id)
            .values(status=RequestStatus.GRANTED, decided_at=env.now)
        )

    env.clock.advance(timedelta(days=2))
    assert worker(env).run_once().requests_timed_out == 1
    assert request(env, admin_decision.id).status == RequestStatus.TIMED_OUT
    assert request(env, approved.id).status == RequestStatus.GRANTED
    assert request(env, no_deadline.id).status == RequestStatus.PENDING_APPROVAL
    [event] = audit_events(env)
    assert json.loads(event.detail or "{}")["previous_status"] == "PendingAdminDecision"


def test_timeouts_are_batched(env: Env) -> None:
    directory = env.directory()
    users = [env.user(directory) for _ in range(12)]
    requests = [env.pending_request(user, PASSWORD_ADMIN) for user in users]
    env.clock.advance(timedelta(hours=24))
    counts = worker(env, batch_size=5).run_once()
    assert (counts.requests_timed_out, counts.batches) == (12, 3)
    assert sorted(str(e.request_id) for e in audit_events(env)) == sorted(
        str(r.id) for r in requests
    )
    # The user can ask again: the one-pending-request index no longer counts the old one.
    env.pending_request(users[0], PASSWORD_ADMIN)
