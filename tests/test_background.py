from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from openpim import background
from openpim.alerts.models import AlertIncident
from openpim.audit.models import AuditEvent
from openpim.runtime import Runtime
from tests.factories import GA, Env


def test_housekeeping_runs_alert_scans(env: Env, runtime: Runtime) -> None:
    directory, _ = env.pim_directory()
    intruder = env.user(directory, "intruder")
    env.permanent(intruder, GA)  # written straight into the table: outside PIM
    background.housekeeping_once(runtime)
    with runtime.db.reader() as s:
        assert s.scalars(select(AlertIncident)).first() is not None


def test_all_loops_start_and_stop_together(env: Env, runtime: Runtime) -> None:
    directory, _ = env.pim_directory()
    user = env.user(directory, "bob")
    env.permanent(user, GA, end=env.now + timedelta(minutes=10))
    env.clock.advance(timedelta(minutes=11))
    loops = background.start(runtime)
    names = {thread.name for thread, _ in loops.threads}
    assert names == {"openpim-worker", "openpim-notifications", "openpim-housekeeping"}
    try:
        # The expiry worker records the end it finds (waiting for a thread, not for time).
        for _ in range(200):
            with runtime.db.reader() as s:
                if s.scalars(
                    select(AuditEvent).where(AuditEvent.action == "assignment.expired")
                ).first():
                    break
            loops.threads[0][1].wait(0.05)
        else:
            raise AssertionError("the worker did not record the expiry")
    finally:
        loops.stop()
    assert all(not thread.is_alive() for thread, _ in loops.threads)
