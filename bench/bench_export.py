"""Benchmark: streaming 1,000,000 activation-history rows as CSV, and the memory it costs.

    .venv/bin/python bench/bench_export.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench_issue4 \\
        --summary /work/bench-data/openpim-bench-pg.json --rows 1000000

Use a copy of the seeded database: when it holds fewer activations than --rows, the script adds
synthetic ones (past, ended, drawn on existing eligibilities) until it does. It then runs the
activation-history export exactly as the API route does (`reports.service.activation_export`,
its own connection, server-side cursor, CSV chunks) and writes the chunks to /dev/null.

Memory: the process's resident set is sampled before the export and its peak during it
(VmHWM, reset first through /proc/self/clear_refs). With --http, the same export is also
downloaded from a real uvicorn server process and that process's RSS is sampled while it
streams. Target: growth <= 50 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.config import Settings
from openpim.db.models import Base
from openpim.directory.models import Directory
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.reports import service as reports
from openpim.reports.history import ReportFilter
from openpim.runtime import Runtime

OPERATOR = Actor.operator("bench")
BATCH = 20_000


def _status_kb(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _top_up(runtime: Runtime, directory_id: uuid.UUID, rows: int) -> int:
    now = runtime.clock.now()
    with runtime.db.reader() as s:
        have = s.execute(
            select(func.count()).where(
                Assignment.directory_id == directory_id,
                Assignment.assignment_type == AssignmentType.ACTIVATED,
            )
        ).scalar_one()
        eligibilities = s.execute(
            select(Eligibility.id, Eligibility.principal_id, Eligibility.role_id).limit(50_000)
        ).all()
    missing, rng = rows - int(have), random.Random(7)
    while missing > 0:
        batch = []
        for _ in range(min(BATCH, missing)):
            e = eligibilities[rng.randrange(len(eligibilities))]
            start = now - timedelta(days=400 + rng.randrange(300), minutes=rng.randrange(1440))
            batch.append(
                {
                    "id": uuid.uuid4(), "directory_id": directory_id, "principal_id": e[1],
                    "role_id": e[2], "start_at": start, "end_at": start + timedelta(hours=1),
                    "request_id": None, "created_via": "pim", "created_at": start,
                    "ended_reason": "expired", "end_recorded_at": start + timedelta(hours=1),
                    "assignment_type": "Activated", "eligibility_id": e[0],
                }
            )  # fmt: skip
        with runtime.db.unit_of_work() as s:
            s.execute(insert(Assignment.__table__), batch)
        missing -= len(batch)
    return max(int(have), rows)


def _in_process(runtime: Runtime, directory_id: uuid.UUID) -> dict[str, float]:
    with runtime.read(OPERATOR) as ctx:
        chunks = reports.activation_export(
            ctx, runtime.db.engine, directory_id, ReportFilter(), "csv"
        )
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS counter
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    lines = 0
    size = 0
    with open("/dev/null", "w", encoding="utf-8") as sink:
        for chunk in chunks:
            sink.write(chunk)
            size += len(chunk)
            lines += chunk.count("\n")
    elapsed = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    return {
        "rows": lines - 1,
        "megabytes_written": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "rows_per_second": round((lines - 1) / elapsed),
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "growth_mb": round((peak - before) / 1024, 1),
    }


def _app(database_url: str, now: datetime) -> Any:
    """The API app with the report routes (registered here too while app.py lacks them)."""
    from openpim.api import reports as reports_api
    from openpim.api.deps import API_PREFIX
    from openpim.app import create_app

    runtime = Runtime.from_settings(Settings(database_url=database_url), FrozenClock(now))
    app = create_app(runtime=runtime, start_worker=False)
    routes = app.router.routes
    if not any(getattr(r, "original_router", None) is reports_api.router for r in routes):
        count = len(routes)
        app.include_router(reports_api.router, prefix=API_PREFIX)
        added = routes[count:]
        del routes[count:]
        routes[1:1] = added  # ahead of the portal and the Graph fallback
    return app


def _reader_token(runtime: Runtime) -> str:
    from openpim.auth.tokens import issue_session
    from openpim.directory.models import User
    from openpim.roles import ids

    now = runtime.clock.now()
    with runtime.unit(OPERATOR) as ctx:
        user = ctx.session.scalars(
            select(User)
            .join(Assignment, Assignment.principal_id == User.id)
            .where(
                Assignment.role_id == ids.PRIVILEGED_ROLE_ADMINISTRATOR,
                Assignment.start_at <= now,
                Assignment.end_at.is_(None),
            )
            .limit(1)
        ).one()
        raw, _ = issue_session(ctx, user, mfa_verified_at=None)
    return raw


def _over_http(runtime: Runtime, database_url: str, now: datetime) -> dict[str, float]:
    import httpx

    port = 18000 + random.Random().randrange(900)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--database-url", database_url,
         "--now", now.isoformat()],
    )  # fmt: skip
    token = _reader_token(runtime)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _status_kb("VmRSS", str(server.pid)))
            stop.wait(0.05)

    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=600) as client:
            for _ in range(100):
                try:
                    warm = client.get(f"{base}/reports/activations", headers=headers)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert warm.status_code == 200, warm.text
            before = _status_kb("VmRSS", str(server.pid))
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started, size, lines = time.perf_counter(), 0, 0
            with client.stream("GET", f"{base}/reports/activations/export", headers=headers) as r:
                for data in r.iter_bytes():
                    size += len(data)
                    lines += data.count(b"\n")
            elapsed = time.perf_counter() - started
            stop.set()
            sampler.join()
    finally:
        server.terminate()
        server.wait(30)
    return {
        "rows": lines - 1,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "server_rss_before_mb": round(before / 1024, 1),
        "server_rss_peak_mb": round(peak[0] / 1024, 1),
        "growth_mb": round((peak[0] - before) / 1024, 1),
    }


def _serve(port: int, database_url: str, now: datetime) -> None:
    import uvicorn

    uvicorn.run(_app(database_url, now), host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--summary", help="the seed's summary JSON (for its 'now')")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--http", action="store_true", help="also measure a uvicorn server")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.database_url, datetime.fromisoformat(args.now))
        return

    now = datetime.now(UTC)
    if args.summary:
        with open(args.summary, encoding="utf-8") as handle:
            now = datetime.fromisoformat(json.load(handle)["now"])
    runtime = Runtime.from_settings(Settings(database_url=args.database_url), FrozenClock(now))
    Base.metadata.create_all(runtime.db.engine)
    with runtime.db.reader() as s:
        directory_id = s.scalars(select(Directory.id).order_by(Directory.id)).first()
        assert directory_id is not None, "seed the database first"
    activations = _top_up(runtime, directory_id, args.rows)
    result: dict[str, object] = {
        "database": runtime.db.dialect,
        "activations_in_directory": activations,
        "in_process": _in_process(runtime, directory_id),
    }
    if args.http:
        result["http"] = _over_http(runtime, args.database_url, now)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    runtime.db.dispose()


if __name__ == "__main__":
    main()
