"""Server time of the portal's pages on the benchmark dataset (issue 3's performance bar).

Seed first (bench/README.md), then:

    .venv/bin/python bench/bench_pages.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench \\
        --summary /work/bench-data/openpim-bench-pg.json --samples 20

The app runs in-process (create_app over the seeded database, no worker) with the clock frozen
at the dataset's "now", signed in as the dataset's first admin (Global Administrator, PRA and
Security Administrator); a few pages are also read as an eligible admin and as an ordinary
member with a year of history. Each sample is one full request through the ASGI stack, timed
around the call: routing, session check, services, templates; no network.

Every GET page of the portal is measured (first page of lists), each three ways: `cold` is its
first request with the summaries' caches emptied (member counts and activations per day are
counted from the database, as after a membership change), then `warmup` requests, then
`samples` timed requests reported as median, p95 and max. Budgets: the dashboard at most
150 ms, every other page at most 300 ms, compared on the median. A page that does not answer
200 is reported with its status and fails the run. The load average is printed with the
numbers: other work on the machine slows every page.

Tables created after the seed (alerts, reviews, ...) are added with create_all, which never
touches existing tables; nullable columns and indexes that the models gained or changed after
the seed are added or rebuilt (the bench database is not under Alembic).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, select, text

from openpim.alerts.definitions import AlertType
from openpim.app import create_app
from openpim.auth.tokens import issue_session
from openpim.config import Settings
from openpim.db.models import Base
from openpim.directory.models import User
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.reviews.models import AccessReview
from openpim.roles import ids
from openpim.runtime import Runtime
from openpim.summaries import service as summaries
from openpim.web.security import SESSION_COOKIE

DASHBOARD_BUDGET_MS = 150.0
PAGE_BUDGET_MS = 300.0
PASSWORD_ADMIN = uuid.UUID("966707d0-3269-4727-9be2-8c3a10f19b9d")


@dataclass(frozen=True)
class Page:
    path: str
    who: str = "admin"  # admin: GA + PRA; eligible: an eligible admin; member: a plain user


def pages(runtime: Runtime, summary: dict[str, Any]) -> list[Page]:
    eligible_admin = next(a for a in summary["admins"] if a["eligible_roles"])
    out = [
        Page("/dashboard"),
        Page("/my-roles"),
        Page("/my-requests"),
        Page("/approvals"),
        Page("/roles"),
        Page("/roles?show=all"),
        Page(f"/roles/{ids.GLOBAL_ADMINISTRATOR}"),
        Page(f"/roles/{PASSWORD_ADMIN}"),
        Page(f"/roles/{PASSWORD_ADMIN}/settings"),
        Page("/admin-roles"),
        Page(f"/admin-roles?role={PASSWORD_ADMIN}"),
        Page("/admin-roles?role=all"),
        Page("/audit"),
        Page("/audit?range=month"),
        Page("/my-audit"),
        Page("/pim/wizard"),
        Page("/users/search?q=user0001"),
        Page("/account"),
        Page("/alerts"),
        Page(f"/alerts/{next(iter(AlertType)).value}"),
        Page("/reviews"),
        Page("/reviews/new"),
        Page("/my-reviews"),
        Page("/reports"),
        Page("/reports/changes"),
        Page("/reports/statistics"),
        Page("/notifications/channels"),
        Page("/notifications/deliveries"),
        Page("/my-roles", "eligible"),
        Page(f"/my-roles/{eligible_admin['eligible_roles'][0]}/activate", "eligible"),
        Page("/dashboard", "member"),
        Page("/my-roles", "member"),
        Page("/my-audit", "member"),
    ]
    with runtime.db.reader() as session:
        review = session.scalars(select(AccessReview.id).limit(1)).first()
    if review is not None:
        out.append(Page(f"/reviews/{review}"))
    return out


def catch_up_schema(engine: Engine) -> list[str]:
    """Bring a seeded database up to the models: they move on after a seed.

    Missing tables are created; missing nullable columns are added; indexes that are missing
    or whose columns changed are (re)built. The bench database is not under Alembic.
    """
    Base.metadata.create_all(engine)
    changes = []
    found = inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in found.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not column.nullable:
                    raise SystemExit(f"{table.name}.{column.name} is new and NOT NULL: re-seed")
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
                changes.append(f"added column {table.name}.{column.name}")
    for table in Base.metadata.sorted_tables:
        existing = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes(table.name)}
        for index in table.indexes:
            wanted = [c.name for c in index.columns]
            if existing.get(index.name) == wanted:
                continue
            started = time.perf_counter()
            with engine.begin() as conn:
                if index.name in existing:
                    index.drop(conn)
                index.create(conn)
            changes.append(f"built index {index.name} ({time.perf_counter() - started:.1f} s)")
    if changes:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return changes


def _session(runtime: Runtime, user_id: uuid.UUID) -> str:
    with runtime.unit(Actor.operator("bench")) as ctx:
        user = ctx.session.get(User, user_id)
        assert user is not None
        raw, _ = issue_session(ctx, user, mfa_verified_at=ctx.now)
    return raw


def _member_with_history(summary: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(summary["sample_user_ids"][0])


def _timed(client: TestClient, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path)
    return (time.perf_counter() - started) * 1000, response.status_code


def _measure(client: TestClient, page: Page, samples: int, warmup: int) -> dict[str, Any]:
    budget = DASHBOARD_BUDGET_MS if page.path == "/dashboard" else PAGE_BUDGET_MS
    result: dict[str, Any] = {"path": page.path, "as": page.who, "budget_ms": budget}
    summaries.clear_caches()
    cold, status = _timed(client, page.path)
    if status != 200:
        return {**result, "status": status, "ok": False}
    for _ in range(warmup):
        _timed(client, page.path)
    timings = []
    for _ in range(samples):
        elapsed, status = _timed(client, page.path)
        if status != 200:
            return {**result, "status": status, "ok": False}
        timings.append(elapsed)
    timings.sort()
    p50 = statistics.median(timings)
    return {
        **result,
        "status": 200,
        "samples": samples,
        "cold_ms": round(cold, 1),
        "p50_ms": round(p50, 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95 + 0.5) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "ok": p50 <= budget,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--summary", required=True, help="the seed's --summary JSON")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", help="measure only paths containing this text")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    summary = json.loads(Path(args.summary).read_text())
    now = datetime.fromisoformat(summary["now"]) + timedelta(minutes=5)
    settings = Settings(database_url=args.database_url, run_worker_in_server=False)
    runtime = Runtime.from_settings(settings, FrozenClock(now))
    for change in catch_up_schema(runtime.db.engine):
        print(f"{change} (models newer than the seed)", file=sys.stderr)
    app = create_app(runtime=runtime, start_worker=False)
    eligible_admin = next(a for a in summary["admins"] if a["eligible_roles"])
    cookies = {
        "admin": _session(runtime, uuid.UUID(summary["admins"][0]["id"])),
        "eligible": _session(runtime, uuid.UUID(eligible_admin["id"])),
        "member": _session(runtime, _member_with_history(summary)),
    }
    todo = [p for p in pages(runtime, summary) if not args.only or args.only in p.path]
    load_before = os.getloadavg()
    results = []
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, cookies["admin"])
        # The process's very first request pays for imports, template compilation and the
        # first connection; reported on its own, then every page starts from warm code.
        first, _ = _timed(client, "/dashboard")
        for page in todo:
            client.cookies.set(SESSION_COOKIE, cookies[page.who])
            results.append(_measure(client, page, args.samples, args.warmup))
    load_after = os.getloadavg()
    width = max(len(f"{r['path']} ({r['as']})") for r in results)
    print(f"{'page':<{width}}  {'cold':>7} {'p50':>7} {'p95':>7} {'max':>7}  budget")
    for r in results:
        name = r["path"] if r["as"] == "admin" else f"{r['path']} ({r['as']})"
        if r["status"] != 200:
            print(f"{name:<{width}}  status {r['status']}")
            continue
        mark = "ok" if r["ok"] else "OVER"
        print(
            f"{name:<{width}}  {r['cold_ms']:>7.1f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}"
            f" {r['max_ms']:>7.1f}  {r['budget_ms']:.0f} ms {mark}"
        )
    print(f"first request of the process (dashboard): {first:.1f} ms")
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    report = {
        "database": runtime.db.dialect,
        "counts": summary.get("counts"),
        "python": sys.version.split()[0],
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_after,
        "first_request_ms": round(first, 1),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    runtime.db.dispose()
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
