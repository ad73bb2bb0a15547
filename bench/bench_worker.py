"""Benchmark: how long the worker takes to record 10,000 activations that end in the same second.

    .venv/bin/python bench/bench_worker.py                       # fresh SQLite file in a temp dir
    .venv/bin/python bench/bench_worker.py --database-url postgresql+psycopg://postgres@127.0.0.1/openpim_bench_worker

The PostgreSQL database must exist and be empty (createdb first, dropdb after). The rows are
bulk-inserted (one directory, N users, a permanent eligibility and one activation each, all
activations ending within one second); then Worker.run_once drains them with the configured
batch size, as the loop would on its first pass after that second. Prints the timings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, inspect, select

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.audit.models import AuditEvent
from openpim.config import Settings
from openpim.db.models import Base
from openpim.db.schema import ensure_reference_data
from openpim.db.session import Database, open_database
from openpim.directory.models import AccountKind, Directory, User, VerifiedDomain
from openpim.kit.clock import FrozenClock
from openpim.notifications.models import OutboxMessage
from openpim.roles import ids
from openpim.runtime import Runtime
from openpim.worker import PassCounts, Worker

END_SECOND = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


def prepare(database: Database, count: int) -> None:
    existing = inspect(database.engine).get_table_names()
    if existing:
        sys.exit(
            f"refusing to run: the database already has tables ({len(existing)}); use a fresh one"
        )
    Base.metadata.create_all(database.engine)
    created = END_SECOND - timedelta(days=1)
    directory_id = uuid.uuid4()
    users: list[dict[str, Any]] = []
    eligibilities: list[dict[str, Any]] = []
    activations: list[dict[str, Any]] = []
    for i in range(count):
        user_id, eligibility_id = uuid.uuid4(), uuid.uuid4()
        # Spread over one second: every end falls inside [END_SECOND, END_SECOND + 1s).
        end = END_SECOND + timedelta(microseconds=i * (1_000_000 // count))
        common = {
            "directory_id": directory_id,
            "principal_id": user_id,
            "role_id": ids.SECURITY_ADMINISTRATOR,
            "created_via": "pim",
        }
        users.append(
            {
                "id": user_id,
                "directory_id": directory_id,
                "user_principal_name": f"admin{i}@bench.example",
                "display_name": f"Admin {i}",
                "account_kind": AccountKind.ORGANIZATIONAL.value,
                "enabled": True,
                "created_at": created,
            }
        )
        eligibilities.append(
            {
                **common,
                "id": eligibility_id,
                "start_at": created,
                "end_at": None,
                "created_at": created,
            }
        )
        activations.append(
            {
                **common,
                "id": uuid.uuid4(),
                "start_at": end - timedelta(hours=1),
                "end_at": end,
                "created_at": end - timedelta(hours=1),
                "assignment_type": AssignmentType.ACTIVATED.value,
                "eligibility_id": eligibility_id,
            }
        )
    with database.unit_of_work() as session:
        ensure_reference_data(session, created)
        session.execute(
            insert(Directory), [{"id": directory_id, "name": "Bench", "created_at": created}]
        )
        session.execute(
            insert(VerifiedDomain),
            [{"directory_id": directory_id, "domain": "bench.example", "created_at": created}],
        )
        session.execute(insert(User), users)
        session.execute(insert(Eligibility), eligibilities)
        session.execute(insert(Assignment), activations)


def drain(runtime: Runtime, url: str, workers: int) -> tuple[float, list[PassCounts]]:
    """Drain with `workers` Workers at once, each with its own engine as separate processes."""
    runtimes = [runtime] + [replace(runtime, db=open_database(url)) for _ in range(workers - 1)]
    results: list[PassCounts] = []
    barrier = threading.Barrier(workers + 1)

    def run(rt: Runtime) -> None:
        barrier.wait()
        results.append(Worker(rt).run_once())

    threads = [threading.Thread(target=run, args=(rt,)) for rt in runtimes]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for rt in runtimes[1:]:
        rt.db.dispose()
    return elapsed, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database; default: a fresh SQLite file")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=Settings().worker_batch_size)
    parser.add_argument("--workers", type=int, default=1, help="workers draining at once")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        database = open_database(url)
        settings = Settings(database_url=url, worker_batch_size=args.batch_size)
        clock = FrozenClock(END_SECOND + timedelta(seconds=1))
        runtime = Runtime(settings=settings, db=database, clock=clock)
        print(
            f"database: {database.dialect}, activations: {args.count}, "
            f"batch size: {args.batch_size}, workers: {args.workers}"
        )

        started = time.perf_counter()
        prepare(database, args.count)
        print(
            f"bulk insert (users, eligibilities, activations): {time.perf_counter() - started:.2f}s"
        )

        idle = []
        for _ in range(20):
            t = time.perf_counter()
            Worker(runtime).run_once(now=END_SECOND - timedelta(seconds=1))
            idle.append(time.perf_counter() - t)

        elapsed, results = drain(runtime, url, args.workers)
        recorded = sum(r.activations_expired for r in results)
        with database.reader() as session:
            events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
            schedules = session.execute(
                select(func.count(func.distinct(AuditEvent.schedule_id)))
            ).scalar_one()
            messages = session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
            pending = session.execute(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.end_recorded_at.is_(None))
            ).scalar_one()
        database.dispose()

    ok = recorded == events == schedules == messages == args.count and pending == 0
    print(f"idle pass (nothing due), median of 20: {statistics.median(idle) * 1000:.1f} ms")
    print(
        f"drain: {elapsed:.2f} s for {recorded} activations "
        f"({recorded / elapsed:,.0f}/s; {sum(r.batches for r in results)} batches)"
    )
    print(
        f"audit events {events}, distinct schedules {schedules}, outbox rows {messages}, "
        f"still pending {pending}: {'OK' if ok else 'MISMATCH'}"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
