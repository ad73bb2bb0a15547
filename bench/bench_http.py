"""OpenPIM over HTTP (issue 2): self-activation rate/latency, access check vs hello-world, RSS.

Each server is uvicorn with one process, log level warning (no access log), uvloop/httptools
as uvicorn picks them, started as a child process; load comes from wrk in another process.

Self-activation on a fresh SQLite database (migrated, then N users each eligible for Password
Administrator with MFA off and no approval, one session token each):

    .venv/bin/python bench/bench_http.py activation --users 10000 --seconds 15 --connections 8

Each request activates a different user's role once (wrk Lua script rotating tokens); afterwards
the database is checked for one activation, its audit event and its outbox message per 201.

Access check vs a bare FastAPI hello-world (bench/hello_app.py), same uvicorn settings, same run,
through /work/shared/tools/http-ratio; then (PostgreSQL) an audit-query load and the server RSS:

    .venv/bin/python bench/bench_http.py access \
        --database-url sqlite:////work/bench-data/openpim-bench.sqlite \
        --summary /work/bench-data/openpim-bench-sqlite.json
    .venv/bin/python bench/bench_http.py access --audit-load \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench \
        --summary /work/bench-data/openpim-bench-pg.json

The seeded datasets predate some indexes: --ensure-indexes creates missing ones and recreates
changed ones (plain CREATE INDEX) before measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select

from openpim.assignments.models import Assignment, Eligibility
from openpim.audit.models import AuditEvent
from openpim.auth.models import AuthToken
from openpim.auth.tokens import SESSION, hash_token
from openpim.config import Settings
from openpim.db.migrate import upgrade
from openpim.db.models import Base
from openpim.directory.models import AccountKind, Directory, User, VerifiedDomain
from openpim.kit.context import Actor
from openpim.notifications.models import OutboxMessage
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.roles import ids
from openpim.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
PASSWORD_ADMIN = uuid.UUID("966707d0-3269-4727-9be2-8c3a10f19b9d")
HTTP_RATIO = "/work/shared/tools/http-ratio"
SECRET = "bench-secret-key-bench-secret-key-0123456789"


# --- servers --------------------------------------------------------------------------------


def start_server(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    print("server:", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env})
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # any HTTP answer (404) means it is up
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{app} did not start on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=15)


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    kb = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return kb / 1024


def wrk(url: str, seconds: int, connections: int, extra: list[str]) -> str:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    cmd += [*extra, url]
    shown = re.sub(r"(Authorization: Bearer )\S+", r"\1$TOKEN", " ".join(cmd))
    print("load:", shown, flush=True)
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def wrk_numbers(out: str) -> dict[str, float]:
    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": ms("50%"),
        "p90_ms": ms("90%"),
        "p99_ms": ms("99%"),
        "non2xx": int(bad.group(1)) if bad else 0,
    }


def ensure_indexes(url: str) -> None:
    """Create the schedule indexes added after the seed; recreate the ones whose columns changed."""
    engine = create_engine(url)
    insp = inspect(engine)
    for model in (Assignment, Eligibility):
        table = model.__table__
        existing = {i["name"]: i["column_names"] for i in insp.get_indexes(table.name)}
        for index in table.indexes:  # type: ignore[attr-defined]
            want = [c.name for c in index.columns]
            have = existing.get(index.name)
            if have == want:
                continue
            with engine.begin() as conn:
                if have is not None:
                    index.drop(conn)
                index.create(conn)
            print(f"{'recreated' if have else 'created'} index {index.name} {want}", flush=True)
    engine.dispose()


# --- 1. self-activation ---------------------------------------------------------------------


def seed_activation_db(url: str, users: int) -> tuple[list[str], uuid.UUID]:
    upgrade(url)
    runtime = Runtime.from_settings(Settings(database_url=url, secret_key=SECRET))
    tokens: list[str] = []
    with runtime.unit(Actor.operator("bench")) as ctx:
        now = ctx.now
        directory = Directory(name="HTTP bench", created_at=now)
        ctx.session.add(directory)
        ctx.session.flush()
        ctx.session.add(
            VerifiedDomain(directory_id=directory.id, domain="b.example", created_at=now)
        )
        admin = User(
            directory_id=directory.id, user_principal_name="admin@b.example",
            display_name="Admin", account_kind=AccountKind.ORGANIZATIONAL, enabled=True,
            created_at=now,
        )  # fmt: skip
        ctx.session.add(admin)
        ctx.session.flush()
        ctx.session.add(
            Assignment(
                directory_id=directory.id, principal_id=admin.id, role_id=ids.GLOBAL_ADMINISTRATOR,
                start_at=now, end_at=None, assignment_type="Assigned", created_via="pim",
                created_at=now,
            )
        )  # fmt: skip
        directory.pim_enabled_at, directory.pim_enabled_by_id = now, admin.id
        rows = [
            User(
                id=uuid.uuid4(), directory_id=directory.id,
                user_principal_name=f"user{n}@b.example", display_name=f"User {n}",
                account_kind=AccountKind.ORGANIZATIONAL, enabled=True, created_at=now,
            )
            for n in range(users)
        ]  # fmt: skip
        ctx.session.add_all(rows)
        ctx.session.flush()
        for user in rows:
            ctx.session.add(
                Eligibility(
                    directory_id=directory.id, principal_id=user.id, role_id=PASSWORD_ADMIN,
                    start_at=now - timedelta(days=1), end_at=None, created_via="pim",
                    created_at=now,
                )
            )  # fmt: skip
            raw = uuid.uuid4().hex + uuid.uuid4().hex
            tokens.append(raw)
            ctx.session.add(
                AuthToken(
                    id=uuid.uuid4(), user_id=user.id, kind=SESSION, name=None,
                    token_hash=hash_token(raw), created_at=now, last_used_at=now,
                    expires_at=now + timedelta(hours=12), revoked_at=None,
                    mfa_verified_at=None, client_address=None,
                )
            )  # fmt: skip
        ctx.session.flush()
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN,
            RoleSettingsUpdate(
                require_mfa_on_activation=False, require_approval_on_activation=False
            ),
        )  # fmt: skip
    runtime.db.dispose()
    return tokens, directory.id


LUA = """
local tokens = {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  step = %(threads)d
  i = id + 1
end
local body = '%(body)s'
request = function()
  local token = tokens[i]
  i = i + step
  if token == nil then token = "exhausted" end
  return wrk.format("POST", "/api/v1/me/activations",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


def cmd_activation(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="openpim-http-"))
    url = f"sqlite:///{workdir}/activation.sqlite"
    started = time.perf_counter()
    tokens, _ = seed_activation_db(url, args.users)
    print(f"seeded {args.users} users in {time.perf_counter() - started:.1f}s at {url}")
    (workdir / "tokens.txt").write_text("\n".join(tokens) + "\n")
    body = json.dumps(
        {"role_id": str(PASSWORD_ADMIN), "duration": "PT1H", "justification": "bench run"}
    )
    script = workdir / "activate.lua"
    script.write_text(LUA % {"tokens": workdir / "tokens.txt", "threads": 2, "body": body})
    env = {
        "OPENPIM_DATABASE_URL": url,
        "OPENPIM_SECRET_KEY": SECRET,
        "OPENPIM_RUN_WORKER_IN_SERVER": "true" if args.worker else "false",
        "OPENPIM_LOG_LEVEL": "WARNING",
    }
    server = start_server("openpim.app:create_app", args.port, env)
    try:
        load_before = os.getloadavg()
        out = wrk(
            f"http://127.0.0.1:{args.port}", args.seconds, args.connections, ["-s", str(script)]
        )
        numbers = wrk_numbers(out)
    finally:
        stop(server)
    engine = create_engine(url)
    with engine.connect() as conn:
        activated = conn.execute(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.assignment_type == "Activated")
        ).scalar_one()
        audited = conn.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "activation.activated")
        ).scalar_one()
        outbox = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    engine.dispose()
    ok = numbers["requests"] - numbers["non2xx"]
    print(out)
    print(f"load average before: {load_before}; worker in server: {args.worker}")
    print(
        f"activations: {numbers['rps']:.0f}/s  p50 {numbers['p50_ms']:.2f} ms  "
        f"p90 {numbers['p90_ms']:.2f} ms  p99 {numbers['p99_ms']:.2f} ms  "
        f"2xx {ok} non2xx {numbers['non2xx']}"
    )
    print(f"in the database: {activated} activations, {audited} activate audit events, "
          f"{outbox} outbox messages")  # fmt: skip
    target = numbers["p99_ms"] <= 50 and numbers["rps"] >= 200 and numbers["non2xx"] == 0
    print("target p99 <= 50 ms at >= 200/s:", "met" if target else "MISSED")
    if args.json:
        args.json.write_text(json.dumps({**numbers, "activated": activated}, indent=2))
    return 0 if target else 1


# --- 2./4. access check vs hello-world, RSS -------------------------------------------------


def admin_token(url: str, admin_id: uuid.UUID) -> str:
    runtime = Runtime.from_settings(Settings(database_url=url, secret_key=SECRET))
    Base.metadata.create_all(runtime.db.engine)  # tables added after the seed; never alters
    raw = uuid.uuid4().hex + uuid.uuid4().hex
    with runtime.unit(Actor.operator("bench")) as ctx:
        now = ctx.now
        ctx.session.add(
            AuthToken(
                id=uuid.uuid4(), user_id=admin_id, kind=SESSION, name=None,
                token_hash=hash_token(raw), created_at=now, last_used_at=now,
                expires_at=now + timedelta(hours=12), revoked_at=None,
                mfa_verified_at=None, client_address=None,
            )
        )  # fmt: skip
    runtime.db.dispose()
    return raw


def cmd_access(args: argparse.Namespace) -> int:
    if args.ensure_indexes:
        ensure_indexes(args.database_url)
    summary = json.loads(Path(args.summary).read_text())
    admin = summary["admins"][0]
    token = admin_token(args.database_url, uuid.UUID(admin["id"]))
    user_id = summary["sample_user_ids"][0]
    env = {
        "OPENPIM_DATABASE_URL": args.database_url,
        "OPENPIM_SECRET_KEY": SECRET,
        "OPENPIM_RUN_WORKER_IN_SERVER": "false",
        "OPENPIM_LOG_LEVEL": "WARNING",
    }
    server = start_server("openpim.app:create_app", args.port, env)
    hello = start_server("bench.hello_app:create_app", args.port + 1, {})
    try:
        print(f"openpim RSS after start: {rss_mb(server.pid):.1f} MB")
        check = f"http://127.0.0.1:{args.port}/api/v1/access/users/{user_id}/roles"
        auth = f"Authorization: Bearer {token}"
        req = urllib.request.Request(check, headers={"Authorization": f"Bearer {token}"})
        print("sample answer:", urllib.request.urlopen(req, timeout=5).read().decode()[:200])
        cmd = [
            sys.executable, HTTP_RATIO, check, f"http://127.0.0.1:{args.port + 1}/hello",
            "-H", auth, "--seconds", str(args.seconds), "--rounds", str(args.rounds),
            "--connections", str(args.connections),
        ]  # fmt: skip
        print("ratio:", " ".join(cmd).replace(token, "$TOKEN"), flush=True)
        print(f"load average before: {os.getloadavg()}")
        subprocess.run(cmd, check=True)
        print(f"openpim RSS after access-check load: {rss_mb(server.pid):.1f} MB")
        if args.audit_load:
            role = summary["roles"]["Global Administrator"]
            for query in (
                f"role_id={role}",
                f"user_id={user_id}",
                "action=activation.activated",
                f"since=2026-10-27T00:00:00Z&until=2026-11-26T00:00:00Z&role_id={role}",
            ):
                out = wrk(
                    f"http://127.0.0.1:{args.port}/api/v1/audit/events?{query}",
                    args.seconds, 8, ["-H", auth],
                )  # fmt: skip
                n = wrk_numbers(out)
                print(
                    f"  audit {query[:40]}: {n['rps']:.0f}/s p50 {n['p50_ms']:.1f} ms "
                    f"p99 {n['p99_ms']:.1f} ms non2xx {n['non2xx']}"
                )
            print(f"openpim RSS after audit load: {rss_mb(server.pid):.1f} MB (target <= 250)")
        print(f"hello-world RSS: {rss_mb(hello.pid):.1f} MB")
    finally:
        stop(server)
        stop(hello)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    act = sub.add_parser("activation")
    act.add_argument("--users", type=int, default=10000)
    act.add_argument("--seconds", type=int, default=15)
    act.add_argument("--connections", type=int, default=8)
    act.add_argument("--port", type=int, default=8761)
    act.add_argument("--worker", action="store_true", help="OPENPIM_RUN_WORKER_IN_SERVER=true")
    act.add_argument("--json", type=Path)
    acc = sub.add_parser("access")
    acc.add_argument("--database-url", required=True)
    acc.add_argument("--summary", required=True)
    acc.add_argument("--seconds", type=int, default=10)
    acc.add_argument("--rounds", type=int, default=3)
    acc.add_argument("--connections", type=int, default=32)
    acc.add_argument("--port", type=int, default=8771)
    acc.add_argument("--audit-load", action="store_true")
    acc.add_argument("--ensure-indexes", action="store_true")
    args = parser.parse_args(argv)
    return cmd_activation(args) if args.command == "activation" else cmd_access(args)


if __name__ == "__main__":
    sys.exit(main())
