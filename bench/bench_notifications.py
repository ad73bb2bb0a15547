"""Benchmark: notification delivery to a local SMTP server (aiosmtpd) with one worker.

    .venv/bin/python bench/bench_notifications.py            # fresh SQLite file, 10,000 events
    .venv/bin/python bench/bench_notifications.py --events 2000 --batch 500
    .venv/bin/python bench/bench_notifications.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1/openpim_bench_notify

The PostgreSQL database must exist and be empty (createdb first, dropdb after). A backlog of
N "assignment.added" events (one member each, so one email each) is bulk-inserted into the
outbox; then one worker (`delivery.drain`, the same rounds the worker runs) expands, renders
and sends them all. The SMTP server runs in its own process (aiosmtpd, counting what it
accepts), so it does not compete with the worker for the GIL. Prints the timings and checks
that every message arrived exactly once.

Targets (issue 5): at least 100 emails per second; a 10,000-event backlog drained in at most
2 minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, inspect, select

from openpim.config import Settings
from openpim.db.models import Base
from openpim.db.schema import ensure_reference_data
from openpim.db.session import Database, open_database
from openpim.directory.models import AccountKind, Directory, User
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.notifications import channels, delivery
from openpim.notifications.models import Delivery, OutboxMessage
from openpim.notifications.schemas import EmailChannelIn
from openpim.roles import ids
from openpim.runtime import Runtime

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)

_SMTP_SERVER = """
import socket, sys, threading
from aiosmtpd.controller import Controller

class Counter:
    def __init__(self):
        self.ids = {}
        self.lock = threading.Lock()
    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\\r\\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids[line] = self.ids.get(line, 0) + 1
                break
        return "250 OK"

sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
counter = Counter()
controller = Controller(counter, hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
for line in sys.stdin:
    with counter.lock:
        print(len(counter.ids), sum(counter.ids.values()), flush=True)
controller.stop()
"""


def prepare(database: Database, count: int, port: int, settings: Settings) -> None:
    if inspect(database.engine).get_table_names():
        sys.exit("refusing to run: the database already has tables; use a fresh one")
    Base.metadata.create_all(database.engine)
    directory_id = uuid.uuid4()
    users: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(count):
        user_id = uuid.uuid4()
        users.append(
            {
                "id": user_id,
                "directory_id": directory_id,
                "user_principal_name": f"member{i}@bench.example",
                "display_name": f"Member {i}",
                "account_kind": AccountKind.ORGANIZATIONAL.value,
                "enabled": True,
                "created_at": NOW,
            }
        )
        events.append(
            {
                "id": uuid.uuid4(),
                "directory_id": directory_id,
                "event_type": "assignment.added",
                "payload": {
                    "schedule_id": str(uuid.uuid4()),
                    "kind": "eligibility",
                    "principal_id": str(user_id),
                    "role_id": str(ids.SECURITY_ADMINISTRATOR),
                    "start_at": NOW.isoformat(),
                    "end_at": None,
                    "justification": "quarterly on-call rota",
                    "actor": "admin@bench.example",
                },
                "created_at": NOW,
                "available_at": NOW,
                "attempts": 0,
            }
        )
    with database.unit_of_work() as session:
        ensure_reference_data(session, NOW)
        session.execute(
            insert(Directory), [{"id": directory_id, "name": "Bench", "created_at": NOW}]
        )
        for start in range(0, count, 5000):
            session.execute(insert(User), users[start : start + 5000])
            session.execute(insert(OutboxMessage), events[start : start + 5000])
    runtime = Runtime(settings=settings, db=database, clock=FrozenClock(NOW))
    with runtime.unit(Actor.operator("bench")) as ctx:
        channels.set_email_channel(
            ctx,
            directory_id,
            EmailChannelIn(
                host="127.0.0.1", port=port, security="none", from_address="pim@bench.example"
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="deliveries per round")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-c", _SMTP_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    port = int(server.stdout.readline())

    def received() -> tuple[int, int]:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write("count\n")
        server.stdin.flush()
        unique, total = server.stdout.readline().split()
        return int(unique), int(total)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789abcdef")  # type: ignore[arg-type]
        database = open_database(url)
        try:
            print(f"database: {database.dialect}; events: {args.events}; batch: {args.batch}")
            started = time.perf_counter()
            prepare(database, args.events, port, settings)
            print(f"setup: {time.perf_counter() - started:.1f}s")
            runtime = Runtime(settings=settings, db=database, clock=FrozenClock(NOW))

            started = time.perf_counter()
            expanded = delivery.fan_out(runtime, limit=args.batch)
            fanout_seconds = time.perf_counter() - started
            started_send = time.perf_counter()
            counts = delivery.drain(runtime, limit=args.batch, max_rounds=100_000)
            send_seconds = time.perf_counter() - started_send
            total_seconds = fanout_seconds + send_seconds
            unique, total = received()
            with database.reader() as s:
                done = s.scalar(
                    select(func.count(Delivery.id)).where(Delivery.delivered_at.is_not(None))
                )
        finally:
            database.dispose()
            server.stdin.close()
            server.wait(timeout=30)

    print(
        f"fan-out (render + recipients): {expanded} events in {fanout_seconds:.1f}s "
        f"= {expanded / fanout_seconds:.0f} events/s"
    )
    print(
        f"sending: {counts.delivered} emails in {send_seconds:.1f}s "
        f"= {counts.delivered / send_seconds:.0f} emails/s"
    )
    print(
        f"backlog of {args.events} events drained in {total_seconds:.1f}s "
        f"= {args.events / total_seconds:.0f} events/s end to end"
    )
    print(
        f"SMTP server accepted {total} messages, {unique} distinct Message-IDs; "
        f"{done} deliveries marked delivered"
    )
    ok = unique == args.events and done == args.events and total_seconds <= 120
    ok = ok and counts.delivered / send_seconds >= 100
    print("targets met" if ok else "TARGETS NOT MET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
