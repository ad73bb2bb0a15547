"""Server time of the portal's pages on the benchmark dataset (issue 3's performance bar).

Seed first (bench/README.md), then:

    .venv/bin/python bench/bench_pages.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench \
        --summary /work/bench-data/openpim-bench-pg.json --samples 30

The app runs in-process (create_app over the seeded database, no worker) with the clock frozen
at the dataset's "now", signed in as the dataset's first admin (Global Administrator, PRA and
Security Administrator). Each sample is one full request through the ASGI stack, timed around
the call: routing, session check, services, templates; no network. Budgets: the dashboard at
most 150 ms, every other page at most 300 ms (first page of lists), compared on the median and
reported with p95 and max. Tables created after the seed (alerts, reviews, ...) are added with
create_all, which never touches existing tables.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from openpim.app import create_app
from openpim.auth.tokens import issue_session
from openpim.config import Settings
from openpim.db.models import Base
from openpim.directory.models import User
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.roles import ids
from openpim.runtime import Runtime
from openpim.web.security import SESSION_COOKIE

DASHBOARD_BUDGET_MS = 150.0
PAGE_BUDGET_MS = 300.0
PASSWORD_ADMIN = uuid.UUID("966707d0-3269-4727-9be2-8c3a10f19b9d")


def pages(user_search: str) -> list[str]:
    return [
        "/dashboard",
        "/my-roles",
        "/my-requests",
        "/approvals",
        "/roles",
        "/roles?show=all",
        f"/roles/{ids.GLOBAL_ADMINISTRATOR}",
        f"/roles/{PASSWORD_ADMIN}",
        f"/roles/{PASSWORD_ADMIN}/settings",
        "/admin-roles",
        f"/admin-roles?role={PASSWORD_ADMIN}",
        "/admin-roles?role=all",
        "/audit",
        "/audit?range=month",
        "/my-audit",
        "/pim/wizard",
        f"/users/search?q={user_search}",
        "/account",
    ]


def _session(runtime: Runtime, admin_id: uuid.UUID) -> str:
    with runtime.unit(Actor.operator("bench")) as ctx:
        user = ctx.session.get(User, admin_id)
        assert user is not None
        raw, _ = issue_session(ctx, user, mfa_verified_at=ctx.now)
    return raw


def _measure(client: TestClient, path: str, samples: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    timings.sort()
    budget = DASHBOARD_BUDGET_MS if path == "/dashboard" else PAGE_BUDGET_MS
    p50 = statistics.median(timings)
    return {
        "path": path,
        "samples": samples,
        "p50_ms": round(p50, 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "first_ms": None,
        "budget_ms": budget,
        "ok": p50 <= budget,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--summary", required=True, help="the seed's --summary JSON")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    summary = json.loads(Path(args.summary).read_text())
    now = datetime.fromisoformat(summary["now"]) + timedelta(minutes=5)
    admin = summary["admins"][0]
    settings = Settings(database_url=args.database_url, run_worker_in_server=False)
    runtime = Runtime.from_settings(settings, FrozenClock(now))
    Base.metadata.create_all(runtime.db.engine)
    app = create_app(runtime=runtime, start_worker=False)
    raw = _session(runtime, uuid.UUID(admin["id"]))
    results = []
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, raw)
        # The very first dashboard (cold caches, counts computed) is reported on its own.
        started = time.perf_counter()
        assert client.get("/dashboard").status_code == 200
        cold = (time.perf_counter() - started) * 1000
        for path in pages("user0001"):
            results.append(_measure(client, path, args.samples, args.warmup))
    results[0]["first_ms"] = round(cold, 1)
    width = max(len(r["path"]) for r in results)
    print(f"{'page':<{width}}  {'p50':>8} {'p95':>8} {'max':>8}  budget")
    for r in results:
        mark = "ok" if r["ok"] else "OVER"
        print(
            f"{r['path']:<{width}}  {r['p50_ms']:>7.1f}  {r['p95_ms']:>7.1f}  {r['max_ms']:>7.1f}"
            f"  {r['budget_ms']:.0f} ms {mark}"
        )
    print(f"first (cold) dashboard: {cold:.1f} ms")
    report = {
        "database": runtime.db.dialect,
        "counts": summary.get("counts"),
        "python": sys.version.split()[0],
        "machine": platform.platform(),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    runtime.db.dispose()
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
