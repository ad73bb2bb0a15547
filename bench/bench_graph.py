"""The Graph-compatible API (/v1.0) against the native API, and keyset paging over 1M schedules.

Prepare a database once (its own; 100,000 users each eligible for 10 roles = 1,000,000 current
eligibility schedules, one directory with PIM enabled, one permanent GA + PRA admin):

    createdb -h 127.0.0.1 -U postgres openpim_bench_graph
    .venv/bin/python bench/bench_graph.py --prepare \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench_graph

Run (uvicorn in a separate process on 127.0.0.1, no worker; an httpx client with keep-alive):

    .venv/bin/python bench/bench_graph.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench_graph \\
        --activations 1000 --json /work/bench-data/graph-pg.json

1. Self-activation: `--activations` requests through POST /api/v1/me/activations and as many
   through POST /v1.0/roleManagement/directory/roleAssignmentScheduleRequests (selfActivate),
   interleaved (ABBA) so both see the same database and machine; each by a different user, with
   MFA proved in the session and a justification. Bar: Graph p99 <= 1.2 x native p99.
2. Paging: GET /v1.0/roleManagement/directory/roleEligibilitySchedules?$top=999 as the admin,
   following @odata.nextLink to the end (1,000,000 rows, ~1,000 pages), each page timed. Bar:
   the last pages are no slower than the first (median of the last 10 vs the first 10), and
   the least-squares slope over all pages is ~0. Then the same with a $filter on one role.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.auth.tokens import issue_session
from openpim.config import Settings
from openpim.db.models import Base
from openpim.db.schema import ensure_reference_data
from openpim.devtools.bulk import BulkLoader
from openpim.directory.models import AccountKind, Directory, User, VerifiedDomain
from openpim.kit.context import Actor
from openpim.roles import ids
from openpim.roles.catalog import BUILT_IN_ROLES
from openpim.runtime import Runtime

DOMAIN = "graphbench.example"
ADMIN_UPN = f"admin@{DOMAIN}"
ROLES_PER_USER = 10
SCHEDULES = "/v1.0/roleManagement/directory/roleEligibilitySchedules"


def _roles() -> list[uuid.UUID]:
    protected = {ids.GLOBAL_ADMINISTRATOR, ids.PRIVILEGED_ROLE_ADMINISTRATOR}
    roles = [uuid.UUID(r.id) for r in BUILT_IN_ROLES if uuid.UUID(r.id) not in protected]
    return roles[:ROLES_PER_USER]


def _ts(instant: datetime) -> str:
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def prepare(runtime: Runtime, users: int) -> None:
    """Tables, a PIM directory with an admin, `users` members with 10 eligibilities each."""
    engine = runtime.db.engine
    Base.metadata.create_all(engine)
    now = datetime.now(UTC) - timedelta(days=1)
    with runtime.db.unit_of_work() as s:
        ensure_reference_data(s, now)
        if s.scalar(select(User.id).where(User.user_principal_name == ADMIN_UPN)):
            sys.exit("already prepared (drop and recreate the database to prepare again)")
        directory = Directory(name="Graph bench", created_at=now, pim_enabled_at=now)
        s.add(directory)
        s.flush()
        s.add(VerifiedDomain(directory_id=directory.id, domain=DOMAIN, created_at=now))
        admin = User(
            directory_id=directory.id,
            user_principal_name=ADMIN_UPN,
            display_name="Bench Admin",
            account_kind=AccountKind.ORGANIZATIONAL,
            enabled=True,
            created_at=now,
        )
        s.add(admin)
        s.flush()
        for role in (ids.GLOBAL_ADMINISTRATOR, ids.PRIVILEGED_ROLE_ADMINISTRATOR):
            s.add(
                Assignment(
                    directory_id=directory.id,
                    principal_id=admin.id,
                    role_id=role,
                    start_at=now,
                    assignment_type=AssignmentType.ASSIGNED,
                    created_via="pim",
                    created_at=now,
                )
            )
        directory_id = directory.id
    stamp = _ts(now)
    people = [uuid.uuid4() for _ in range(users)]
    user_rows = (
        (p.hex, directory_id.hex, f"user{n:06}@{DOMAIN}", f"User {n}", "organizational", 1, stamp)
        for n, p in enumerate(people)
    )
    roles = _roles()
    schedule_rows = (
        (uuid.uuid4().hex, directory_id.hex, p.hex, r.hex, stamp, None, None, "pim", stamp)
        for p in people
        for r in roles
    )
    user_table = User.__table__
    eligibility_table = Eligibility.__table__
    with BulkLoader(engine) as loader:
        started = time.perf_counter()
        loader.load(
            user_table,  # type: ignore[arg-type]
            ("id", "directory_id", "user_principal_name", "display_name", "account_kind",
             "enabled", "created_at"),
            user_rows,
        )  # fmt: skip
        loaded = loader.load(
            eligibility_table,  # type: ignore[arg-type]
            ("id", "directory_id", "principal_id", "role_id", "start_at", "end_at", "request_id",
             "created_via", "created_at"),
            schedule_rows,
        )  # fmt: skip
        print(
            f"loaded {users} users, {loaded} eligibilities in {time.perf_counter() - started:.0f}s"
        )
    if runtime.db.dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


# --- running ----------------------------------------------------------------------------------


def _server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENPIM_DATABASE_URL": url, "OPENPIM_RUN_WORKER_IN_SERVER": "false"}
    code = (
        "import uvicorn; uvicorn.run('openpim.app:create_app', factory=True, "
        f"host='127.0.0.1', port={port}, log_level='warning')"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit("the server did not start")


def _tokens(runtime: Runtime, upns: list[str]) -> dict[str, tuple[uuid.UUID, str]]:
    out: dict[str, tuple[uuid.UUID, str]] = {}
    with runtime.unit(Actor.operator("bench")) as ctx:
        rows = ctx.session.scalars(select(User).where(User.user_principal_name.in_(upns)))
        for user in rows:
            raw, _ = issue_session(ctx, user, mfa_verified_at=ctx.now)
            out[user.user_principal_name] = (user.id, raw)
    return out


def _clear_bench_activations(runtime: Runtime) -> None:
    """Earlier runs' activations would make these users' roles already active: drop them.

    Their requests stay (only pending ones would block, and deleting requests would check the
    foreign keys of a million eligibilities row by row).
    """
    with runtime.db.unit_of_work() as s:
        s.execute(text("DELETE FROM assignments WHERE assignment_type = 'Activated'"))


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(pct(90), 2),
        "p99_ms": round(pct(99), 2),
        "max_ms": round(ordered[-1], 2),
    }


def activations(runtime: Runtime, base: str, count: int, warmup: int) -> dict[str, Any]:
    _clear_bench_activations(runtime)
    role = _roles()[0]
    total = 2 * (count + warmup)
    upns = [f"user{n:06}@{DOMAIN}" for n in range(total)]
    tokens = _tokens(runtime, upns)
    native: list[float] = []
    graph: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for n in range(count + warmup):
            pair = [("native", upns[2 * n]), ("graph", upns[2 * n + 1])]
            if n % 2:
                pair.reverse()  # ABBA: neither API always goes first
            for kind, upn in pair:
                user_id, token = tokens[upn]
                headers = {"Authorization": f"Bearer {token}"}
                if kind == "native":
                    body: dict[str, Any] = {
                        "role_id": str(role), "duration": "PT1H", "justification": "bench",
                    }  # fmt: skip
                    path = "/api/v1/me/activations"
                else:
                    body = {
                        "action": "selfActivate",
                        "principalId": str(user_id),
                        "roleDefinitionId": str(role),
                        "directoryScopeId": "/",
                        "justification": "bench",
                        "scheduleInfo": {
                            "expiration": {"type": "afterDuration", "duration": "PT1H"}
                        },
                    }
                    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"
                started = time.perf_counter()
                response = http.post(path, json=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 201:
                    sys.exit(f"{kind} activation failed: {response.status_code} {response.text}")
                if n >= warmup:
                    (native if kind == "native" else graph).append(elapsed)
    out = {"native": _stats(native), "graph": _stats(graph)}
    out["p99_ratio"] = round(out["graph"]["p99_ms"] / out["native"]["p99_ms"], 3)
    out["median_ratio"] = round(out["graph"]["median_ms"] / out["native"]["median_ms"], 3)
    out["within_20_percent"] = out["p99_ratio"] <= 1.2
    return out


def _slope(ys: list[float]) -> float:
    """Least-squares slope in ms per page."""
    n = len(ys)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(ys)
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(ys))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def paging(base: str, token: str, params: dict[str, str]) -> dict[str, Any]:
    times: list[float] = []
    rows = 0
    with httpx.Client(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        url: str | None = SCHEDULES
        query: dict[str, str] | None = params
        while url:
            started = time.perf_counter()
            response = http.get(url, params=query)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                sys.exit(f"paging failed: {response.status_code} {response.text[:300]}")
            body = response.json()
            rows += len(body["value"])
            url, query = body.get("@odata.nextLink"), None
    first, last = times[:10], times[-10:]
    return {
        "params": params,
        "pages": len(times),
        "rows": rows,
        "total_s": round(sum(times) / 1000, 1),
        "first10_median_ms": round(statistics.median(first), 1),
        "last10_median_ms": round(statistics.median(last), 1),
        "median_ms": round(statistics.median(times), 1),
        "p99_ms": round(sorted(times)[int(0.99 * (len(times) - 1))], 1),
        "slope_ms_per_100_pages": round(_slope(times) * 100, 2),
        "flat": statistics.median(last) <= 1.2 * statistics.median(first),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--activations", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--top", type=int, default=999)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-paging", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runtime = Runtime.from_settings(Settings(database_url=args.database_url))
    if args.prepare:
        prepare(runtime, args.users)
        return
    base = f"http://127.0.0.1:{args.port}"
    server = _server(args.database_url, args.port)
    try:
        _wait(base)
        result: dict[str, Any] = {
            "database": runtime.db.dialect,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "activation": activations(runtime, base, args.activations, args.warmup),
        }
        print(json.dumps(result["activation"], indent=2), flush=True)
        if not args.skip_paging:
            _, token = _tokens(runtime, [ADMIN_UPN])[ADMIN_UPN]
            role = _roles()[1]
            result["paging"] = [
                paging(base, token, {"$top": str(args.top)}),
                paging(
                    base, token, {"$top": str(args.top), "$filter": f"roleDefinitionId eq {role}"}
                ),
            ]
            print(json.dumps(result["paging"], indent=2), flush=True)
    finally:
        server.terminate()
        server.wait(10)
        runtime.db.dispose()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
