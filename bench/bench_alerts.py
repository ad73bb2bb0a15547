"""Benchmark: a full security-alert scan (all seven alerts) of the seeded benchmark directory.

    .venv/bin/python bench/bench_alerts.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench_issue4 \\
        --summary /work/bench-data/openpim-bench-pg.json

Use a copy of the seeded database (`createdb -T openpim_bench openpim_bench_issue4`): the scan
writes incidents and audit events. The alert tables are created if missing (create_all only
adds tables). The clock is frozen at the seed's "now" so the data looks as it did when seeded.

Reports the first scan (every incident raised, items written) and the steady-state scans that
follow (incidents updated), each a full `alerts.service.scan_now` in one transaction, plus
each detector's own time. Target: a full scan <= 5 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text

from openpim.alerts import service as alerts
from openpim.alerts.definitions import DEFINITIONS, effective_thresholds
from openpim.alerts.detectors import DETECTORS
from openpim.alerts.models import AlertConfig, AlertIncident, AlertIncidentItem
from openpim.config import Settings
from openpim.db.models import Base
from openpim.directory.models import Directory
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.runtime import Runtime

OPERATOR = Actor.operator("bench")


def _reset(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        s.execute(delete(AlertIncidentItem))
        s.execute(delete(AlertIncident))
        s.execute(delete(AlertConfig))


def _scan(runtime: Runtime, directory_id: uuid.UUID) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    with runtime.unit(OPERATOR) as ctx:
        outcomes = alerts.scan_now(ctx, directory_id)
    return time.perf_counter() - started, outcomes


def _detectors(runtime: Runtime, directory_id: uuid.UUID) -> dict[str, dict[str, float]]:
    out = {}
    with runtime.read(OPERATOR) as ctx:
        for alert_type, detect in DETECTORS.items():
            started = time.perf_counter()
            found = detect(ctx, directory_id, effective_thresholds(DEFINITIONS[alert_type], {}))
            out[alert_type.value] = {
                "seconds": round(time.perf_counter() - started, 3),
                "findings": len(found),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--summary", help="the seed's summary JSON (for its 'now')")
    parser.add_argument("--repeat", type=int, default=5, help="steady-state scans")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    now = datetime.now(UTC)
    if args.summary:
        with open(args.summary, encoding="utf-8") as handle:
            now = datetime.fromisoformat(json.load(handle)["now"])
    runtime = Runtime.from_settings(Settings(database_url=args.database_url), FrozenClock(now))
    Base.metadata.create_all(runtime.db.engine)
    _reset(runtime)
    with runtime.db.reader() as s:
        directory_id = s.scalars(
            select(Directory.id).where(Directory.pim_enabled_at.is_not(None)).order_by(Directory.id)
        ).first()
        assert directory_id is not None, "no PIM-enabled directory: seed the database first"
        if runtime.db.dialect == "postgresql":
            version = s.execute(text("select version()")).scalar_one()
        else:
            version = "sqlite"
    first, outcomes = _scan(runtime, directory_id)
    steady = [_scan(runtime, directory_id)[0] for _ in range(args.repeat)]
    result = {
        "database": runtime.db.dialect,
        "server": str(version).split(",")[0],
        "now": now.isoformat(),
        "first_scan_seconds": round(first, 3),
        "steady_scan_seconds": {
            "median": round(statistics.median(steady), 3),
            "max": round(max(steady), 3),
            "runs": [round(t, 3) for t in steady],
        },
        "outcomes": {o.alert_type: {"affected": o.affected, "change": o.change} for o in outcomes},
        "detectors": _detectors(runtime, directory_id),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    runtime.db.dispose()


if __name__ == "__main__":
    main()
