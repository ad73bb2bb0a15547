"""Several workers at once: every end and every timeout is recorded exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.assignments.models import Assignment
from openpim.db.session import Database, open_database
from openpim.worker import PassCounts, Worker
from tests.factories import HELPDESK_ADMIN, PASSWORD_ADMIN, SECURITY_READER, Env
from tests.worker.helpers import (
    assert_chain_intact,
    audit_events,
    events_per_schedule,
    outbox_per_schedule,
    pending_ends,
    runtime_with,
    worker,
)


@pytest.fixture
def own_databases(backend_url: str) -> Iterator[Callable[[], Database]]:
    """Each worker gets its own engine: separate connections, as two processes would have."""
    opened: list[Database] = []

    def make() -> Database:
        database = open_database(backend_url)
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.dispose()


def _run_in_threads(workers: list[Worker]) -> list[PassCounts]:
    barrier = threading.Barrier(len(workers))
    results: list[PassCounts | BaseException | None] = [None] * len(workers)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = workers[i].run_once()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a worker hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, PassCounts)]


def test_two_workers_at_once_record_each_end_and_timeout_exactly_once(
    env: Env, own_databases: Callable[[], Database]
) -> None:
    directory = env.directory()
    users = [env.user(directory) for _ in range(12)]
    roles = (PASSWORD_ADMIN, SECURITY_READER, HELPDESK_ADMIN)
    activations = [env.activated(u, role) for u in users for role in roles for _ in range(5)]
    requests = [env.pending_request(u, role) for u in users for role in roles]
    env.clock.advance(timedelta(hours=24))

    runtime = runtime_with(env, worker_batch_size=7)
    workers = [Worker(replace(runtime, db=own_databases())) for _ in range(2)]
    counts = _run_in_threads(workers)

    assert sum(c.activations_expired for c in counts) == len(activations) == 180
    assert sum(c.requests_timed_out for c in counts) == len(requests) == 36
    assert pending_ends(env) == 0
    assert events_per_schedule(env) == {
        **{a.id: 1 for a in activations},
        None: len(requests),  # timeout events carry no schedule
    }
    assert outbox_per_schedule(env) == {
        **{str(a.id): 1 for a in activations},
        "None": len(requests),
    }
    timed_out = [e.request_id for e in audit_events(env, "request.timed_out")]
    assert sorted(map(str, timed_out)) == sorted(str(r.id) for r in requests)
    assert_chain_intact(env)
    assert worker(env).run_once().total == 0


@pytest.mark.postgres_only
def test_postgres_workers_skip_rows_another_worker_holds(
    env: Env, is_postgres: bool, own_databases: Callable[[], Database]
) -> None:
    if not is_postgres:
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite workers take turns on the write lock")
    directory = env.directory()
    activations = [env.activated(env.user(directory), SECURITY_READER) for _ in range(20)]
    env.clock.advance(timedelta(hours=1))
    held = {a.id for a in activations[:5]}

    other = own_databases()
    with other.unit_of_work() as session:
        # Another worker mid-batch: it holds the first five rows locked and has not committed.
        session.execute(
            select(Assignment.id).where(Assignment.id.in_(held)).with_for_update()
        ).all()
        done: list[PassCounts] = []
        thread = threading.Thread(target=lambda: done.append(worker(env).run_once()))
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the worker waited for locked rows instead of skipping"
        assert done[0].activations_expired == 15
        session.rollback()

    assert {e.schedule_id for e in audit_events(env)} == {a.id for a in activations} - held
    assert worker(env).run_once().activations_expired == 5
    assert events_per_schedule(env) == {a.id: 1 for a in activations}
    assert_chain_intact(env)
