"""The scheduler loop: records schedule ends and times out undecided approval requests.

It never decides who is active (access.service answers that at read time); it drives the side
effects of time passing: the audit record, the outbox row, the request status. Each batch is
one transaction, so a worker killed at any point leaves whole batches behind it, and several
workers (one per server process, or `openpim worker`) can run at once: see
assignments/expiry.py for the locking.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import StatementError

from openpim.assignments import expiry, timeouts
from openpim.assignments.expiry import BatchResult
from openpim.kit.clock import FrozenClock, ensure_utc
from openpim.kit.context import Actor, Ctx
from openpim.runtime import Runtime

log = logging.getLogger("openpim.worker")

WORKER_ACTOR = Actor.system("system:worker")
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class PassCounts:
    """What one pass did: events written by action, and how many batches (transactions) ran."""

    recorded: Counter[str] = field(default_factory=Counter)
    batches: int = 0

    @property
    def activations_expired(self) -> int:
        return self.recorded[expiry.ACTIVATION_EXPIRED]

    @property
    def assignments_expired(self) -> int:
        return self.recorded[expiry.ASSIGNMENT_EXPIRED]

    @property
    def eligibilities_expired(self) -> int:
        return self.recorded[expiry.ELIGIBILITY_EXPIRED]

    @property
    def requests_timed_out(self) -> int:
        return self.recorded[timeouts.REQUEST_TIMED_OUT]

    @property
    def total(self) -> int:
        return sum(self.recorded.values())


class Worker:
    def __init__(self, runtime: Runtime, *, actor: Actor = WORKER_ACTOR) -> None:
        self.runtime = runtime
        self.actor = actor

    def run_once(self, now: datetime | None = None) -> PassCounts:
        """One pass at one instant: drain every due schedule end, then every overdue request.

        The instant is fixed for the whole pass so the pass always terminates; whatever falls
        due meanwhile is the next pass's work (worker_interval_seconds later).
        """
        instant = ensure_utc(now) if now is not None else self.runtime.clock.now()
        counts = PassCounts()
        due = self._due(instant)
        for table in expiry.SCHEDULE_TABLES:
            if due[table]:
                self._drain(
                    instant,
                    counts,
                    partial(expiry.record_ended_schedules, schedule=table, limit=self.batch_size),
                )
        if due["requests"]:
            self._drain(
                instant,
                counts,
                partial(timeouts.expire_overdue_requests, limit=self.batch_size),
            )
        return counts

    @property
    def batch_size(self) -> int:
        return self.runtime.settings.worker_batch_size

    def _due(self, instant: datetime) -> dict[str, bool]:
        # A plain read first: an idle pass (the usual case, four times a second in every server
        # process) then never takes the SQLite write lock or opens a locking transaction.
        checks: dict[str, ColumnElement[bool]] = {
            table: expiry.ends_due_clause(table, instant) for table in expiry.SCHEDULE_TABLES
        }
        checks["requests"] = timeouts.timeouts_due_clause(instant)
        with self.runtime.read(self.actor) as ctx:
            row = ctx.session.execute(select(*checks.values())).one()
        return {name: bool(value) for name, value in zip(checks, row, strict=True)}

    def _drain(
        self, instant: datetime, counts: PassCounts, batch: Callable[[Ctx], BatchResult]
    ) -> None:
        while True:
            with self._unit(instant) as ctx:
                result = batch(ctx)
            counts.batches += 1
            counts.recorded.update(result.recorded)
            # A short batch means nothing is left, or the rest is locked by another worker,
            # which will record it.
            if result.claimed < self.batch_size:
                return

    @contextmanager
    def _unit(self, instant: datetime) -> Iterator[Ctx]:
        with self.runtime.unit(self.actor) as ctx:
            # Every row of the batch (end_recorded_at, audit occurred_at, outbox created_at)
            # carries the pass instant.
            yield replace(ctx, clock=FrozenClock(instant))

    def run_forever(self, stop_event: threading.Event) -> None:
        """Pass after pass until stop_event is set. A failing pass is logged and retried with a
        growing pause, so a database restart does not kill the worker or flood the log.
        """
        interval = self.runtime.settings.worker_interval_seconds
        failures = 0
        log.info("worker started (interval %.2fs, batch %d)", interval, self.batch_size)
        while not stop_event.is_set():
            started = time.monotonic()
            try:
                counts = self.run_once()
            except Exception as exc:
                failures += 1
                pause = min(interval * 2**failures, MAX_BACKOFF_SECONDS)
                log.error(
                    "worker pass failed (%d in a row), retrying in %.1fs: %s",
                    failures,
                    pause,
                    describe_error(exc),
                )
                log.debug("worker failure at:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
            else:
                if failures:
                    log.info("worker recovered after %d failed passes", failures)
                failures = 0
                if counts.total:
                    log.info("worker pass recorded %s", dict(sorted(counts.recorded.items())))
                pause = max(0.0, interval - (time.monotonic() - started))
            stop_event.wait(pause)
        log.info("worker stopped")


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@", re.IGNORECASE)


def describe_error(exc: BaseException) -> str:
    """One line about a failure, safe for logs.

    SQLAlchemy's own message appends the SQL and its bound parameters, which may carry user
    data; only the driver's message is kept, first line, with URL passwords masked.
    """
    source: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        source = exc.orig
    lines = str(source).strip().splitlines()
    message = _URL_PASSWORD.sub(r"\1:***@", lines[0] if lines else "")
    return f"{type(source).__name__}: {message[:300]}"


def start_in_thread(runtime: Runtime) -> tuple[threading.Thread, threading.Event]:
    """Run a Worker in a daemon thread (used by `openpim serve`); set the event to stop it."""
    stop_event = threading.Event()
    worker = Worker(runtime)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop_event,), name="openpim-worker", daemon=True
    )
    thread.start()
    return thread, stop_event
