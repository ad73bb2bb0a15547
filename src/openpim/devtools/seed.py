"""The benchmark dataset: directories, users, schedules and a valid audit chain, in bulk.

    python -m openpim.devtools.seed --database-url URL --users 100000 --schedules 1000000 \\
        --audit-events 10000000 --summary bench-summary.json

The data is deterministic for a given --seed and a given "now". A handful of admins get a
known password and a TOTP secret (printed and written to the summary) so benchmarks and
manual tests can sign in; everyone else has no password, which keeps the seed from spending
minutes in argon2. Every schedule PIM would have made comes with the request that made it
(request_rows.py); only a few "imported" assignments have none. Rows go in through COPY
(PostgreSQL) or raw executemany (SQLite) with the secondary indexes dropped during the load
and rebuilt after it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from argon2 import PasswordHasher
from sqlalchemy import Engine, Table, func, make_url, select, update

from openpim.assignments.models import Assignment, Eligibility, RoleRequest
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.audit.writer import CHAIN_HEAD_ID
from openpim.db.models import Base
from openpim.db.schema import ensure_reference_data
from openpim.db.session import Database, make_engine
from openpim.devtools.audit_rows import AUDIT_COLUMNS, ChainState, audit_rows
from openpim.devtools.bulk import BulkLoader
from openpim.devtools.dataset import (
    ADMIN_PASSWORD,
    ASSIGNMENT_COLUMNS,
    DIRECTORY_COLUMNS,
    DOMAIN_COLUMNS,
    ELIGIBILITY_COLUMNS,
    USER_COLUMNS,
    Population,
    directory_rows,
    domain_rows,
    roles_for,
    to_us,
    user_rows,
)
from openpim.devtools.request_rows import (
    add_requests,
    drop_request_foreign_keys,
    restore_request_foreign_keys,
)
from openpim.devtools.schedules import ScheduleBuilder
from openpim.directory.models import Directory, User, VerifiedDomain
from openpim.kit.clock import SystemClock

T = TypeVar("T")
Progress = Callable[[str], None]
PROGRESS_EVERY = 500_000


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _prepare_schema(engine: Engine, now: datetime, reset: bool) -> None:
    if reset:
        Base.metadata.drop_all(engine)
    # The lead will switch this to Alembic; create_all gives the same tables for now.
    Base.metadata.create_all(engine)
    with Database(engine).unit_of_work() as session:
        ensure_reference_data(session, now)
        if session.scalar(select(func.count()).select_from(User)):
            raise SystemExit(
                "the database already holds users: seed a fresh database or pass --reset "
                "(which drops every OpenPIM table first)"
            )


def _counted(rows: Iterable[T], label: str, total: int, say: Progress) -> Iterator[T]:
    started = time.perf_counter()
    for n, row in enumerate(rows, 1):
        yield row
        if n % PROGRESS_EVERY == 0:
            rate = n / max(time.perf_counter() - started, 1e-9)
            say(f"  {label}: {n:,}/{total:,} ({rate:,.0f}/s)")


def seed_benchmark_dataset(
    database_url: str,
    users: int = 100_000,
    schedules: int = 1_000_000,
    audit_events: int = 10_000_000,
    directories: int = 1,
    seed: int = 1,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    summary_path: str | Path | None = None,
    reset: bool = False,
) -> dict[str, Any]:
    """Fill an empty OpenPIM database; returns (and optionally writes) a JSON-able summary.

    `schedules` counts eligibilities plus assignments (the admins' dozen are made whatever the
    budget); `audit_events` are appended to whatever chain the database already holds.
    """
    say: Progress = progress or (lambda _message: None)
    if directories < 1 or users < 2 * directories:
        raise ValueError("need at least one directory and two users per directory")
    rng = random.Random(seed)
    now = (now or SystemClock().now()).replace(microsecond=0)
    pop = Population(now_us=to_us(now))
    roles_for(pop)
    timings: dict[str, float] = {}
    engine = make_engine(database_url)
    try:
        mark = time.perf_counter()
        _prepare_schema(engine, now, reset)
        timings["schema"] = time.perf_counter() - mark
        with BulkLoader(engine) as loader:
            _load_all(loader, pop, rng, users, schedules, audit_events, directories, say, timings)
        with Database(engine).unit_of_work() as session:
            head = session.get(AuditChainHead, CHAIN_HEAD_ID)
            assert head is not None
            last_seq, last_hash = head.last_seq, head.last_hash
    finally:
        engine.dispose()

    summary = _summary(pop, rng, database_url, seed, now, (last_seq, last_hash), timings)
    if summary_path is not None:
        Path(summary_path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _load_all(
    loader: BulkLoader,
    pop: Population,
    rng: random.Random,
    users: int,
    schedules: int,
    audit_events: int,
    directories: int,
    say: Progress,
    timings: dict[str, float],
) -> None:
    tables = [_table(m) for m in (User, Eligibility, Assignment, RoleRequest, AuditEvent)]
    dropped = []
    for table in tables:
        if not loader.scalar(f"SELECT 1 FROM {table.name} LIMIT 1"):  # noqa: S608
            indexes = loader.secondary_indexes(table)
            loader.drop_indexes(indexes)
            dropped.extend(indexes)

    mark = time.perf_counter()
    say(f"directories and users: {directories:,} / {users:,}")
    loader.load(_table(Directory), DIRECTORY_COLUMNS, directory_rows(pop, rng, directories))
    loader.load(_table(VerifiedDomain), DOMAIN_COLUMNS, domain_rows(pop, rng))
    password_hash = PasswordHasher().hash(ADMIN_PASSWORD)
    loader.load(_table(User), USER_COLUMNS, user_rows(pop, rng, users, password_hash))
    _mark_pim_enabled(loader, pop)
    pop.counts.update(directories=directories, users=len(pop.user_hex))
    timings["users"] = time.perf_counter() - mark

    mark = time.perf_counter()
    say(f"schedules: {schedules:,}")
    drop_request_foreign_keys(loader)
    builder = ScheduleBuilder(pop, rng, schedules)
    builder.plan()
    loader.load(_table(Eligibility), ELIGIBILITY_COLUMNS, builder.eligibility_rows())
    rows = _counted(builder.assignment_rows(), "assignments", schedules, say)
    loader.load(_table(Assignment), ASSIGNMENT_COLUMNS, rows)
    pop.counts["schedules"] = pop.counts["eligibilities"] + pop.counts["assignments"]
    timings["schedules"] = time.perf_counter() - mark

    mark = time.perf_counter()
    say("requests of the schedules")
    pop.counts["requests"] = add_requests(loader, pop)
    restore_request_foreign_keys(loader)
    timings["requests"] = time.perf_counter() - mark

    mark = time.perf_counter()
    say(f"audit events: {audit_events:,}")
    head = loader.scalar(f"SELECT last_seq FROM audit_chain_head WHERE id = {CHAIN_HEAD_ID}")  # noqa: S608
    head_hash = loader.scalar(f"SELECT last_hash FROM audit_chain_head WHERE id = {CHAIN_HEAD_ID}")  # noqa: S608
    chain = ChainState(int(head), str(head_hash))
    copy_format = loader.dialect == "postgresql"
    generated = audit_rows(pop, rng, audit_events, chain, copy_format=copy_format)
    events = _counted(generated, "audit", audit_events, say)
    loaded = loader.load(_table(AuditEvent), AUDIT_COLUMNS, events, copy_ready=copy_format)
    loader.execute(
        f"UPDATE audit_chain_head SET last_seq = {chain.last_seq}, "  # noqa: S608
        f"last_hash = '{chain.last_hash}' WHERE id = {CHAIN_HEAD_ID}"
    )
    pop.counts["audit_events"] = loaded
    timings["audit_events"] = time.perf_counter() - mark

    mark = time.perf_counter()
    say(f"indexes: rebuilding {len(dropped)}")
    for index in dropped:
        started = time.perf_counter()
        loader.create_indexes([index])
        say(f"  {index.name}: {time.perf_counter() - started:.1f}s")
    timings["indexes"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if loader.dialect == "sqlite":
        say("analyze")
        loader.execute("PRAGMA analysis_limit=1000")
        loader.execute("ANALYZE")
    else:
        # VACUUM as well: sets the visibility map and hint bits, the state autovacuum would
        # reach, so the first benchmark to read a table does not pay for rewriting it.
        say("vacuum analyze")
        loader.execute("VACUUM ANALYZE", autocommit=True)
    timings["analyze"] = time.perf_counter() - mark


def _mark_pim_enabled(loader: BulkLoader, pop: Population) -> None:
    """Each directory's first admin enabled PIM and went through the wizard long ago."""
    by_directory: dict[str, str] = {}
    for admin in pop.admins:
        by_directory.setdefault(uuid.UUID(admin["directory_id"]).hex, uuid.UUID(admin["id"]).hex)
    dialect = loader.engine.dialect
    for directory_hex, admin_hex in by_directory.items():
        stmt = (
            update(Directory)
            .where(Directory.id == uuid.UUID(directory_hex))
            .values(
                pim_enabled_by_id=uuid.UUID(admin_hex), wizard_completed_at=Directory.created_at
            )
        )
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        loader.execute(str(compiled))


def _summary(
    pop: Population,
    rng: random.Random,
    database_url: str,
    seed: int,
    now: datetime,
    head: tuple[int, str],
    timings: dict[str, float],
) -> dict[str, Any]:
    admins = set(pop.admin_index)
    regular = [i for i in range(len(pop.user_hex)) if i not in admins and pop.user_enabled[i]]
    sample = rng.sample(regular, min(100, len(regular)))
    return {
        "database": make_url(database_url).render_as_string(hide_password=True),
        "seed": seed,
        "now": now.isoformat(),
        "counts": pop.counts,
        "directories": [
            {"id": str(uuid.UUID(h)), "name": pop.directory_names[i], "domain": pop.domains[i]}
            for i, h in enumerate(pop.directory_hex)
        ],
        "admins": pop.admins,
        "roles": {
            name: str(uuid.UUID(h)) for h, name in zip(pop.role_hex, pop.role_name, strict=True)
        },
        "sample_user_ids": [str(uuid.UUID(pop.user_hex[i])) for i in sample],
        "audit_head": {"last_seq": head[0], "last_hash": head[1]},
        "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openpim.devtools.seed", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--schedules", type=int, default=1_000_000)
    parser.add_argument("--audit-events", type=int, default=10_000_000)
    parser.add_argument("--directories", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--summary", help="write the JSON summary (ids, admin credentials) here")
    parser.add_argument("--reset", action="store_true", help="drop every OpenPIM table first")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    summary = seed_benchmark_dataset(
        args.database_url,
        users=args.users,
        schedules=args.schedules,
        audit_events=args.audit_events,
        directories=args.directories,
        seed=args.seed,
        progress=say,
        summary_path=args.summary,
        reset=args.reset,
    )
    say(f"done: {json.dumps(summary['counts'])}")
    for admin in summary["admins"]:
        say(
            f"admin {admin['user_principal_name']} password={admin['password']} "
            f"totp_secret={admin['totp_secret']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
