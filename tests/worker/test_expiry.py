from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import event, update

from openpim.access.service import is_active
from openpim.assignments.models import Assignment, Eligibility, EndReason
from tests.factories import GA, PASSWORD_ADMIN, SECURITY_READER, Env
from tests.worker.helpers import (
    assert_chain_intact,
    audit_events,
    events_per_schedule,
    outbox,
    outbox_per_schedule,
    pending_ends,
    schedule,
    worker,
)


def test_each_kind_of_end_is_recorded_once_with_audit_and_outbox(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    eligibility = env.eligible(alice, PASSWORD_ADMIN, duration=timedelta(days=2))
    activation = env.activated(alice, PASSWORD_ADMIN, eligibility=eligibility)
    assigned = env.permanent(alice, SECURITY_READER, end=env.now + timedelta(hours=3))
    forever = env.permanent(alice, GA)
    start, hour = env.now, timedelta(hours=1)

    assert worker(env).run_once().total == 0
    env.clock.advance(hour)  # the activation's end_at: active at t < end_at, so it ends now
    counts = worker(env).run_once()
    assert (counts.activations_expired, counts.assignments_expired) == (1, 0)

    env.clock.advance(timedelta(days=2))
    counts = worker(env).run_once()
    assert (counts.assignments_expired, counts.eligibilities_expired) == (1, 1)
    assert worker(env).run_once().total == 0
    env.clock.advance(timedelta(days=400))
    assert worker(env).run_once().total == 0

    [expired] = audit_events(env, "activation.expired")
    assert expired.actor_label == "system:worker"
    assert expired.actor_id is None
    assert (expired.target_user_id, expired.target_label) == (alice.id, alice.user_principal_name)
    assert (expired.role_id, expired.role_label) == (PASSWORD_ADMIN, "Password Administrator")
    assert expired.schedule_id == activation.id
    assert (expired.start_at, expired.end_at) == (start, start + hour)
    assert expired.occurred_at == start + hour
    assert expired.directory_id == directory.id
    assert json.loads(expired.detail or "{}")["eligibility_id"] == str(eligibility.id)

    assert events_per_schedule(env) == {activation.id: 1, assigned.id: 1, eligibility.id: 1}
    assert [e.action for e in audit_events(env)] == [
        "activation.expired",
        "assignment.expired",
        "eligibility.expired",
    ]
    messages = outbox(env)
    assert [m.event_type for m in messages] == [
        "activation.expired",
        "assignment.expired",
        "eligibility.expired",
    ]
    assert messages[0].payload["principal"] == alice.user_principal_name
    assert [m.payload["kind"] for m in messages] == ["activation", "assignment", "eligibility"]
    assert messages[0].payload["eligibility_id"] == str(eligibility.id)
    assert messages[0].payload["reason"] == "expired"
    assert messages[0].payload["end_at"] == (start + hour).isoformat()
    assert messages[0].directory_id == directory.id
    assert outbox_per_schedule(env) == {str(s.id): 1 for s in (activation, assigned, eligibility)}

    row = schedule(env, Assignment, activation.id)
    assert row.end_recorded_at == start + hour
    assert row.ended_reason == EndReason.EXPIRED
    assert row.end_at == start + hour  # the end itself is not moved
    assert schedule(env, Assignment, forever.id).end_recorded_at is None
    assert_chain_intact(env)


def test_not_recorded_a_microsecond_before_the_end(env: Env) -> None:
    alice = env.user(env.directory())
    activation = env.activated(alice, PASSWORD_ADMIN, duration=timedelta(minutes=30))
    end = activation.end_at
    assert end is not None
    assert worker(env).run_once(now=end - timedelta(microseconds=1)).total == 0
    with env.runtime.db.reader() as s:
        assert is_active(s, alice.id, PASSWORD_ADMIN, end - timedelta(microseconds=1))
        assert not is_active(s, alice.id, PASSWORD_ADMIN, end)
    assert worker(env).run_once(now=end).activations_expired == 1


def test_ends_recorded_by_the_operation_that_ended_them_are_skipped(env: Env) -> None:
    alice = env.user(env.directory())
    removed = env.eligible(alice, PASSWORD_ADMIN, duration=timedelta(days=30))
    deactivated = env.activated(alice, PASSWORD_ADMIN, eligibility=removed)
    with env.runtime.db.unit_of_work() as s:
        # What removal does: the end moves to the moment of removal and is recorded right away.
        for model, row, reason in (
            (Eligibility, removed, EndReason.REMOVED),
            (Assignment, deactivated, EndReason.ELIGIBILITY_ENDED),
        ):
            s.execute(
                update(model)
                .where(model.id == row.id)
                .values(end_at=env.now, ended_reason=reason, end_recorded_at=env.now)
            )
    env.clock.advance(timedelta(days=31))
    assert worker(env).run_once().total == 0
    assert audit_events(env) == []
    assert outbox(env) == []
    assert schedule(env, Eligibility, removed.id).ended_reason == EndReason.REMOVED


def test_an_end_reason_already_given_is_kept(env: Env) -> None:
    alice = env.user(env.directory())
    activation = env.activated(alice, PASSWORD_ADMIN)
    with env.runtime.db.unit_of_work() as s:
        # An operation shortened the activation to its eligibility's end and left the
        # recording of that (future) end to the worker.
        s.execute(
            update(Assignment)
            .where(Assignment.id == activation.id)
            .values(ended_reason=EndReason.ELIGIBILITY_ENDED)
        )
    env.clock.advance(timedelta(hours=2))
    assert worker(env).run_once().activations_expired == 1
    assert schedule(env, Assignment, activation.id).ended_reason == EndReason.ELIGIBILITY_ENDED
    [expired] = audit_events(env, "activation.expired")
    assert json.loads(expired.detail or "{}")["reason"] == "eligibility_ended"
    assert outbox(env)[0].payload["reason"] == "eligibility_ended"


def test_a_backlog_is_drained_batch_after_batch_in_one_pass(env: Env) -> None:
    directory = env.directory()
    users = [env.user(directory) for _ in range(5)]
    activations = [env.activated(u, PASSWORD_ADMIN) for u in users for _ in range(5)]
    env.clock.advance(timedelta(hours=1))
    counts = worker(env, batch_size=10).run_once()
    # 25 activations in 3 batches, then the 5 eligibilities (permanent: never end) need none.
    assert counts.activations_expired == 25
    assert counts.batches == 3
    assert pending_ends(env) == 0
    assert events_per_schedule(env) == {a.id: 1 for a in activations}
    assert_chain_intact(env)


def _statements_per_batch(env: Env, rows: int) -> int:
    directory = env.directory()
    for _ in range(rows):
        env.activated(env.user(directory), SECURITY_READER)
    env.clock.advance(timedelta(hours=1))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = env.runtime.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = worker(env, batch_size=100).run_once()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts.activations_expired == rows
    return len(statements)


def test_query_count_does_not_grow_with_the_batch(env: Env) -> None:
    # No per-row queries (no N+1 for labels): a batch of 3 and a batch of 40 cost the same.
    small = _statements_per_batch(env, 3)
    large = _statements_per_batch(env, 40)
    assert small == large
    assert large <= 12
