"""Throughput of audit chain verification: openpim.audit.verify.verify_chain.

Seed first (see bench/README.md), then:

    .venv/bin/python bench/bench_audit_verify.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench
    .venv/bin/python bench/bench_audit_verify.py \
        --database-url sqlite:////work/bench-data/openpim-bench.sqlite --workers 2

Verifies the whole chain (every hash recomputed, every link and the head checked) and reports
events per second of wall time and of CPU time (this process and its --workers processes; the
database server's own work shows only in the wall time). The target is at
least 100,000 events per second.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import asdict
from typing import Any

from openpim.audit.verify import verify_chain
from openpim.db.session import open_database


def _cpu_seconds() -> float:
    """This process's CPU plus that of its finished children (the --workers processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="processes (verify_chain workers)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    db = open_database(args.database_url)
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        result = verify_chain(db, batch_size=args.batch_size, workers=args.workers)
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        runs.append(
            {
                "result": asdict(result),
                "seconds": round(wall, 2),
                "events_per_second": round(result.checked / wall),
                "events_per_cpu_second": round(result.checked / cpu) if cpu else None,
            }
        )
        print(json.dumps(runs[-1]), flush=True)
    db.dispose()
    summary = {
        "database": db.dialect,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "runs": runs,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
    if not all(run["result"]["ok"] for run in runs):
        raise SystemExit("the audit chain did not verify")


if __name__ == "__main__":
    main()
