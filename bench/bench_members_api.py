"""Server time of the REST API's member listings on the benchmark dataset, first page and next.

Seed first (bench/README.md), then:

    .venv/bin/python bench/bench_members_api.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench \\
        --summary /work/bench-data/openpim-bench-pg.json --samples 20

The app runs in-process (create_app over the seeded database, no worker), the clock frozen at
the dataset's "now" + 5 minutes, called with a bearer session of the dataset's first admin (a
PIM reader). Each sample is one full GET through the ASGI stack (auth, service, JSON), timed
around the call; no network. The role measured is the one with the most current and scheduled
members (eligible + active), counted here unless --role names one.

Measured: the role's members (`/roles/{id}/members`), the same through `/members?role_id=`,
and the whole directory's `/members`, each with the server's default page (or --limit, sent as
`limit`); when the answer names a `next_cursor`, the page after it too. Reported: rows in the
answer, cold (first call), median, p95 and max over --samples after --warmup calls, and the
load average (two CPUs are shared with other work; it moves every number).

The bench database is not under Alembic: missing columns and changed indexes are added first
(bench_pages.catch_up_schema).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, literal, or_, select, union_all

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pages import catch_up_schema

from openpim.app import create_app
from openpim.assignments.models import Assignment, Eligibility
from openpim.auth.tokens import issue_session
from openpim.config import Settings
from openpim.directory.models import User
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.roles.models import RoleDefinition
from openpim.runtime import Runtime

V1 = "/api/v1"


def biggest_role(runtime: Runtime, now: datetime) -> tuple[uuid.UUID, str, int]:
    """The role with the most current and scheduled schedules (eligible + active)."""
    parts = [
        select(model.role_id.label("role_id"), literal(1).label("one")).where(
            or_(model.end_at.is_(None), model.end_at > now)
        )
        for model in (Eligibility, Assignment)
    ]
    live = union_all(*parts).subquery()
    stmt = (
        select(live.c.role_id, RoleDefinition.display_name, func.count().label("n"))
        .join(RoleDefinition, RoleDefinition.id == live.c.role_id)
        .group_by(live.c.role_id, RoleDefinition.display_name)
        .order_by(func.count().desc(), live.c.role_id)
        .limit(1)
    )
    with runtime.db.reader() as session:
        role_id, name, count = session.execute(stmt).one()
    return role_id, name, int(count)


def role_name(runtime: Runtime, role_id: uuid.UUID) -> str:
    with runtime.db.reader() as session:
        stmt = select(RoleDefinition.display_name).where(RoleDefinition.id == role_id)
        name = session.scalar(stmt)
    if name is None:
        raise SystemExit(f"no role {role_id}")
    return name


def _token(runtime: Runtime, user_id: uuid.UUID) -> str:
    with runtime.unit(Actor.operator("bench")) as ctx:
        user = ctx.session.get(User, user_id)
        assert user is not None
        raw, _ = issue_session(ctx, user, mfa_verified_at=ctx.now)
    return raw


def _get(client: TestClient, path: str, params: dict[str, str]) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {path} {params}: {response.status_code} {response.text[:300]}")
    return elapsed, response.json()


def measure(
    client: TestClient, name: str, path: str, params: dict[str, str], samples: int, warmup: int
) -> dict[str, Any]:
    cold, body = _get(client, path, params)
    for _ in range(warmup):
        _get(client, path, params)
    timings = sorted(_get(client, path, params)[0] for _ in range(samples))
    return {
        "name": name,
        "path": path,
        "params": params,
        "rows": len(body["value"]),
        "next_cursor": body.get("next_cursor"),
        "cold_ms": round(cold, 1),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95 + 0.5) - 1)], 1),
        "max_ms": round(timings[-1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--summary", required=True, help="the seed's --summary JSON")
    parser.add_argument("--role", type=uuid.UUID, help="measure this role (default: the biggest)")
    parser.add_argument("--limit", type=int, help="page size to ask for (default: the server's)")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    summary = json.loads(Path(args.summary).read_text())
    now = datetime.fromisoformat(summary["now"]) + timedelta(minutes=5)
    settings = Settings(database_url=args.database_url, run_worker_in_server=False)
    runtime = Runtime.from_settings(settings, FrozenClock(now))
    for change in catch_up_schema(runtime.db.engine):
        print(f"{change} (models newer than the seed)", file=sys.stderr)
    if args.role is None:
        role_id, name, live = biggest_role(runtime, now)
        print(f"role: {name} ({role_id}), {live} current and scheduled schedules")
    else:
        role_id, name = args.role, role_name(runtime, args.role)
        print(f"role: {name} ({role_id})")
    app = create_app(runtime=runtime, start_worker=False)
    token = _token(runtime, uuid.UUID(summary["admins"][0]["id"]))
    size = {} if args.limit is None else {"limit": str(args.limit)}
    cases = [
        ("role members", f"{V1}/roles/{role_id}/members", size),
        ("members?role_id", f"{V1}/members", {"role_id": str(role_id), **size}),
        ("members (directory)", f"{V1}/members", size),
    ]
    load_before = os.getloadavg()
    results = []
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for label, path, params in cases:
            first = measure(client, f"{label}, first page", path, params, args.samples, args.warmup)
            results.append(first)
            if first["next_cursor"]:
                after = {**params, "cursor": first["next_cursor"]}
                results.append(
                    measure(client, f"{label}, next page", path, after, args.samples, args.warmup)
                )
    load_after = os.getloadavg()
    width = max(len(r["name"]) for r in results)
    print(f"{'listing':<{width}}  {'rows':>5} {'cold':>8} {'p50':>8} {'p95':>8} {'max':>8}")
    for r in results:
        print(
            f"{r['name']:<{width}}  {r['rows']:>5} {r['cold_ms']:>8.1f} {r['p50_ms']:>8.1f}"
            f" {r['p95_ms']:>8.1f} {r['max_ms']:>8.1f}"
        )
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    if args.json:
        report = {
            "database": runtime.db.dialect,
            "role": {"id": str(role_id), "name": name},
            "load_before": load_before,
            "load_after": load_after,
            "results": results,
        }
        args.json.write_text(json.dumps(report, indent=2))
    runtime.db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
