"""In-process latency of the access check: openpim.access.service.active_role_ids.

Seed first (see bench/README.md), then:

    .venv/bin/python bench/bench_access.py --database-url sqlite:////work/bench-data/openpim-bench.sqlite
    .venv/bin/python bench/bench_access.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench

Each sample asks for the active roles of a random user of the dataset at one instant, on one
open connection (as a request handler holds one), and is timed on its own with perf_counter_ns.
The target is a median at or below 50 microseconds. --compare also times the same statement
through SQLAlchemy's ordinary Core execute ("core_path") and the statement the service ran
before this benchmark (join on users + DISTINCT, Core execute: "original"). --baseline (on
PostgreSQL) times a prepared `SELECT 1` on the same connection in the same run, the floor of any
answer that asks the server, and prints the check's median as a multiple of it.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, text

from openpim.access.service import _ACTIVE_ROLES, active_role_ids
from openpim.assignments.models import Assignment
from openpim.db.session import open_database
from openpim.directory.models import User
from openpim.kit.clock import SystemClock

_a, _u = Assignment.__table__.c, User.__table__.c
# The statement active_role_ids ran before the fast path: a join on users and a DISTINCT.
_ORIGINAL = (
    select(_a.role_id)
    .select_from(Assignment.__table__.join(User.__table__, _u.id == _a.principal_id))
    .where(
        _a.principal_id == bindparam("user_id"),
        _a.start_at <= bindparam("at"),
        or_(_a.end_at.is_(None), _a.end_at > bindparam("at")),
        _u.enabled.is_(True),
    )
    .distinct()
)


def _core_path(conn: Connection, user_id: uuid.UUID, at: datetime) -> set[uuid.UUID]:
    return {row[0] for row in conn.execute(_ACTIVE_ROLES, {"user_id": user_id, "at": at})}


def _original_path(conn: Connection, user_id: uuid.UUID, at: datetime) -> set[uuid.UUID]:
    return {row[0] for row in conn.execute(_ORIGINAL, {"user_id": user_id, "at": at})}


def _round_trip(conn: Connection, user_id: uuid.UUID, at: datetime) -> set[uuid.UUID]:
    """A prepared `SELECT 1` on the same driver connection: the floor any check that asks the
    database pays (PostgreSQL only; --baseline)."""
    with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.execute("SELECT 1", prepare=True)
        cur.fetchall()
    return set()


def _measure(
    check: Callable[[Connection, uuid.UUID, datetime], set[uuid.UUID]],
    conn: Connection,
    users: list[uuid.UUID],
    at: datetime,
    warmup: int,
) -> dict[str, Any]:
    for user_id in users[:warmup]:
        check(conn, user_id, at)
    timings: list[int] = []
    holding = 0
    roles = 0
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for user_id in users:
        t0 = clock()
        held = check(conn, user_id, at)
        timings.append(clock() - t0)
        holding += bool(held)
        roles += len(held)
    elapsed = time.perf_counter() - started
    timings.sort()
    n = len(timings)

    def pct(p: float) -> float:
        return round(timings[min(n - 1, int(n * p))] / 1000, 1)

    return {
        "samples": n,
        "median_us": round(statistics.median(timings) / 1000, 1),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "max_us": round(timings[-1] / 1000, 1),
        "mean_us": round(statistics.fmean(timings) / 1000, 1),
        "checks_per_second": round(n / elapsed),
        "users_holding_a_role": holding,
        "roles_returned": roles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--at", help="ISO instant to ask about (default: now)")
    parser.add_argument("--compare", action="store_true", help="also time the Core path")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time a prepared SELECT 1 (one round trip, PostgreSQL) and give the ratio",
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    db = open_database(args.database_url)
    at = datetime.fromisoformat(args.at) if args.at else SystemClock().now()
    results: dict[str, Any] = {
        "database": db.dialect,
        "at": at.isoformat(),
        "python": platform.python_version(),
    }
    with db.engine.connect() as conn:
        all_users = [row[0] for row in conn.execute(text("SELECT id FROM users"))]
        all_users = [u if isinstance(u, uuid.UUID) else uuid.UUID(u) for u in all_users]
        counts = conn.execute(
            text("SELECT (SELECT count(*) FROM assignments), (SELECT count(*) FROM users)")
        ).one()
        results["assignments"], results["users"] = int(counts[0]), int(counts[1])
        rng = random.Random(args.seed)
        sample = [rng.choice(all_users) for _ in range(args.samples)]
        results["fast_path"] = _measure(active_role_ids, conn, sample, at, args.warmup)
        if args.baseline and db.dialect == "postgresql":
            trip = results["round_trip"] = _measure(_round_trip, conn, sample, at, args.warmup)
            results["median_over_round_trip"] = round(
                results["fast_path"]["median_us"] / trip["median_us"], 2
            )
        if args.compare:
            results["core_path"] = _measure(_core_path, conn, sample, at, args.warmup)
            results["original"] = _measure(_original_path, conn, sample, at, args.warmup)
        conn.rollback()
    db.dispose()
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
