"""The background loop: runs passes on its interval, survives failures, stops on its event."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from openpim.assignments import expiry
from openpim.worker import Worker, describe_error, start_in_thread
from tests.factories import SECURITY_READER, Env
from tests.worker.helpers import audit_events, events_per_schedule, runtime_with

# Looks like what a driver might echo back: must never reach the log.
SECRET = "hunter2-" + "do-not-log"
LEAKY_URL = f"postgresql+psycopg://openpim:{SECRET}@db.internal/openpim"


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the worker thread"
        time.sleep(0.02)


def test_the_thread_records_ends_as_the_clock_moves_and_stops_on_the_event(env: Env) -> None:
    alice = env.user(env.directory())
    activation = env.activated(alice, SECURITY_READER, duration=timedelta(minutes=30))
    thread, stop = start_in_thread(runtime_with(env, worker_interval_seconds=0.02))
    try:
        assert thread.daemon and thread.name == "openpim-worker"
        time.sleep(0.1)  # several idle passes: nothing is due yet
        assert audit_events(env) == []
        env.clock.advance(timedelta(minutes=30))
        _wait_for(lambda: len(audit_events(env)) == 1)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert events_per_schedule(env) == {activation.id: 1}


def test_stop_does_not_wait_for_the_interval(env: Env) -> None:
    worker = Worker(runtime_with(env, worker_interval_seconds=60))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2


def test_a_failing_pass_is_logged_without_secrets_and_the_loop_carries_on(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    alice = env.user(env.directory())
    activation = env.activated(alice, SECURITY_READER)
    env.clock.advance(timedelta(hours=1))
    real = expiry.record_ended_schedules
    failures = {"left": 2}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            statement = "UPDATE assignments SET note = %(note)s"
            raise OperationalError(
                statement, {"note": SECRET}, Exception(f"could not reach {LEAKY_URL}\nDETAIL")
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(expiry, "record_ended_schedules", flaky)
    caplog.set_level(logging.DEBUG, logger="openpim.worker")
    thread, stop = start_in_thread(runtime_with(env, worker_interval_seconds=0.02))
    try:
        _wait_for(lambda: len(audit_events(env)) == 1)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert events_per_schedule(env) == {activation.id: 1}

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "(2 in a row)" in errors[1].getMessage()
    assert "openpim:***@db.internal" in errors[0].getMessage()
    assert any("recovered after 2 failed passes" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text
    assert "UPDATE assignments" not in caplog.text


def test_describe_error_keeps_the_driver_message_and_masks_credentials() -> None:
    error = OperationalError("SELECT 1", {"p": SECRET}, Exception(f"refused by {LEAKY_URL}"))
    assert describe_error(error) == (
        "Exception: refused by postgresql+psycopg://openpim:***@db.internal/openpim"
    )
    assert describe_error(ValueError("")) == "ValueError: "
