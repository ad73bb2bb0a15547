"""A worker that dies mid-batch leaves the batch unrecorded; the next run records it once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openpim.assignments import expiry
from openpim.notifications import outbox as outbox_module
from tests.factories import SECURITY_READER, Env
from tests.worker.helpers import (
    assert_chain_intact,
    audit_events,
    events_per_schedule,
    outbox,
    outbox_per_schedule,
    pending_ends,
    worker,
)

REPO = Path(__file__).resolve().parents[2]


class Crash(RuntimeError):
    pass


def _fail_on_call(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Make the batch's outbox write crash after its first n-1 messages: by then the batch's
    UPDATE has run and part of its outbox rows exist in the transaction."""
    real = outbox_module.enqueue_many

    def enqueue_many(ctx: Any, messages: Any) -> Any:
        real(ctx, messages[: n - 1])
        raise Crash("injected crash mid-batch")

    monkeypatch.setattr(expiry.outbox, "enqueue_many", enqueue_many)


def _activations(env: Env, count: int) -> list[Any]:
    directory = env.directory()
    return [env.activated(env.user(directory), SECURITY_READER) for _ in range(count)]


def test_crash_half_way_through_a_batch_leaves_nothing_and_a_rerun_records_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    activations = _activations(env, 10)
    env.clock.advance(timedelta(hours=1))
    _fail_on_call(monkeypatch, 6)
    with pytest.raises(Crash):
        worker(env, batch_size=10).run_once()
    assert audit_events(env) == []
    assert outbox(env) == []
    assert pending_ends(env) == 10

    monkeypatch.undo()
    assert worker(env, batch_size=10).run_once().activations_expired == 10
    assert events_per_schedule(env) == {a.id: 1 for a in activations}
    assert outbox_per_schedule(env) == {str(a.id): 1 for a in activations}
    assert_chain_intact(env)


def test_crash_in_the_audit_write_of_the_second_batch_keeps_the_first(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    activations = _activations(env, 25)
    env.clock.advance(timedelta(hours=1))
    real = expiry.writer.record_many
    calls = {"n": 0}

    def record_many(ctx: Any, entries: Any) -> Any:
        calls["n"] += 1
        events = real(ctx, entries)  # written and flushed: the crash comes after the audit rows
        if calls["n"] == 2:
            raise Crash("injected crash after the audit write")
        return events

    monkeypatch.setattr(expiry.writer, "record_many", record_many)
    with pytest.raises(Crash):
        worker(env, batch_size=10).run_once()
    assert len(audit_events(env)) == 10
    assert len(outbox(env)) == 10
    assert pending_ends(env) == 15

    monkeypatch.undo()
    assert worker(env, batch_size=10).run_once().activations_expired == 15
    assert events_per_schedule(env) == {a.id: 1 for a in activations}
    assert outbox_per_schedule(env) == {str(a.id): 1 for a in activations}
    assert_chain_intact(env)


_KILLED_WORKER = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from openpim.assignments import expiry
    from openpim.config import Settings
    from openpim.kit.clock import FrozenClock
    from openpim.runtime import Runtime
    from openpim.worker import Worker

    url, now, kill_at = sys.argv[1], datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
    real, calls = expiry.outbox.enqueue_many, [0]

    def enqueue_many(ctx, messages):
        if calls[0] < kill_at <= calls[0] + len(messages):
            real(ctx, messages[: kill_at - calls[0] - 1])
            os._exit(9)  # no rollback, no cleanup: the process just stops
        calls[0] += len(messages)
        return real(ctx, messages)

    expiry.outbox.enqueue_many = enqueue_many
    settings = Settings(database_url=url, worker_batch_size=10)
    Worker(Runtime.from_settings(settings, FrozenClock(now))).run_once()
    """
)


def test_a_killed_worker_process_loses_only_its_open_batch(env: Env, backend_url: str) -> None:
    activations = _activations(env, 25)
    env.clock.advance(timedelta(hours=1))
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER, backend_url, env.now.isoformat(), "15"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    # The first batch committed; the second died with 5 of its 10 outbox rows in the session.
    assert len(audit_events(env)) == 10
    assert pending_ends(env) == 15

    assert worker(env, batch_size=10).run_once().activations_expired == 15
    assert events_per_schedule(env) == {a.id: 1 for a in activations}
    assert outbox_per_schedule(env) == {str(a.id): 1 for a in activations}
    assert_chain_intact(env)
