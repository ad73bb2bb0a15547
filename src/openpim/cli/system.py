"""Running OpenPIM: migrate, init, serve, worker, bootstrap, dev seed."""

from __future__ import annotations

import copy
import logging
import os
import signal
import threading
from types import FrameType
from typing import Annotated, Any

import typer
from sqlalchemy import make_url, select

from openpim.auth.mfa import provisioning_uri
from openpim.cli.common import (
    DatabaseUrl,
    JsonFlag,
    ask_new_password,
    emit_json,
    open_runtime,
    operator_unit,
)
from openpim.directory.models import Directory
from openpim.directory.service import bootstrap as bootstrap_service
from openpim.runtime import Runtime

BOOTSTRAP_EXAMPLE = (
    'openpim bootstrap --directory-name "Contoso" --domain contoso.com '
    '--admin-upn admin@contoso.com --admin-name "Ada Admin"'
)


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def run_migrations(rt: Runtime) -> str | None:
    """Alembic upgrade head plus the reference data (built-in roles, audit chain head), then
    seal the authenticator secrets an older version stored in clear."""
    from openpim.auth.mfa import seal_bare_secrets
    from openpim.db.migrate import current_revision, upgrade

    upgrade(rt.settings.database_url, clock=rt.clock)
    with rt.db.unit_of_work() as session:
        sealed = seal_bare_secrets(session, rt.settings)
    if sealed:
        typer.echo(
            f"sealed {sealed} authenticator secret(s) stored in clear by an older version",
            err=True,
        )
    return current_revision(rt.settings.database_url)


def is_bootstrapped(rt: Runtime) -> bool:
    with rt.db.reader() as session:
        return session.execute(select(Directory.id).limit(1)).first() is not None


def _bootstrap_hint(portal_url: str | None = None) -> None:
    typer.echo("No directory yet. Create the first directory and administrator with:")
    typer.echo(f"  {BOOTSTRAP_EXAMPLE}")
    typer.echo("(it asks for the administrator's password; add --password-stdin for scripts)")
    if portal_url:
        typer.echo(f"or in a browser: {portal_url}/setup")


def migrate(database_url: DatabaseUrl = None, json_out: JsonFlag = False) -> None:
    """Upgrade the database schema to the newest revision (Alembic `upgrade head`)."""
    rt = open_runtime(database_url)
    revision = run_migrations(rt)
    if json_out:
        emit_json({"database": _shown_url(rt.settings.database_url), "revision": revision})
        return
    typer.echo(f"{_shown_url(rt.settings.database_url)} is at revision {revision}")


def init(database_url: DatabaseUrl = None, json_out: JsonFlag = False) -> None:
    """Migrate the database and tell whether OpenPIM is bootstrapped, and how if not."""
    rt = open_runtime(database_url)
    revision = run_migrations(rt)
    ready = is_bootstrapped(rt)
    if json_out:
        emit_json(
            {
                "database": _shown_url(rt.settings.database_url),
                "revision": revision,
                "bootstrapped": ready,
                "bootstrap_command": None if ready else BOOTSTRAP_EXAMPLE,
            }
        )
        return
    typer.echo(f"{_shown_url(rt.settings.database_url)} is at revision {revision}")
    if ready:
        typer.echo("OpenPIM is bootstrapped. Start it with: openpim serve")
    else:
        _bootstrap_hint()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the background worker in-process.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Migrate, then serve the API and portal with uvicorn (each process runs the worker)."""
    rt = open_runtime(database_url)
    run_migrations(rt)
    if not is_bootstrapped(rt):
        _bootstrap_hint(f"http://{host}:{port}")
    rt.db.dispose()
    # uvicorn builds the app in each process from the environment (factory=True, no arguments),
    # so the choices made here travel there as OPENPIM_* variables.
    os.environ["OPENPIM_DATABASE_URL"] = rt.settings.database_url
    if no_worker:
        os.environ["OPENPIM_RUN_WORKER_IN_SERVER"] = "false"
    from openpim.config import get_settings

    get_settings.cache_clear()
    import uvicorn

    typer.echo(f"serving on http://{host}:{port} ({workers} process(es))")
    uvicorn.run(
        "openpim.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=rt.settings.log_level.lower(),
        log_config=_server_logging(rt.settings.log_level.upper()),
        proxy_headers=bool(rt.settings.trusted_proxies),
        forwarded_allow_ips=rt.settings.trusted_proxies or None,
    )


def _server_logging(level: str) -> dict[str, Any]:
    """uvicorn's logging plus OpenPIM's own loggers: uvicorn configures only its own, so the
    background loops' lines (worker, audit chain head for anchors) would otherwise be dropped
    below WARNING. Handed to every server process by uvicorn."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["openpim"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(asctime)s %(levelprefix)s %(name)s %(message)s",
        "use_colors": False,
    }
    config["handlers"]["openpim"] = {
        "formatter": "openpim",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["openpim"] = {"handlers": ["openpim"], "level": level, "propagate": False}
    return config


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run one pass, print it, exit.")] = False,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Run the background loops (expiry records, request time-outs, notification delivery,
    alert scans, access reviews) until SIGINT or SIGTERM."""
    from openpim.worker import Worker

    rt = open_runtime(database_url)
    loop = Worker(rt)
    if once:
        counts = loop.run_once()
        recorded = dict(sorted(counts.recorded.items()))
        if json_out:
            emit_json({"recorded": recorded, "batches": counts.batches, "total": counts.total})
        else:
            typer.echo(f"recorded {counts.total} event(s) in {counts.batches} batch(es)")
            for action, n in recorded.items():
                typer.echo(f"  {action}: {n}")
        return
    logging.basicConfig(
        level=rt.settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    from openpim import background

    background.start(rt).wait(stop)


def bootstrap(
    directory_name: Annotated[str, typer.Option(help="Name of the first directory.")],
    domain: Annotated[str, typer.Option(help="Its verified domain, e.g. contoso.com.")],
    admin_upn: Annotated[str, typer.Option(help="First administrator, e.g. admin@contoso.com.")],
    admin_name: Annotated[str, typer.Option(help="The administrator's display name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """First run: the first directory and its administrator (permanent Global Administrator)."""
    rt = open_runtime(database_url)
    password = ask_new_password(password_stdin)
    with operator_unit(rt) as ctx:
        directory, user, secret = bootstrap_service(
            ctx, directory_name, domain, admin_upn, admin_name, password
        )
        directory_id, directory_label = directory.id, directory.name
        user_id, upn = user.id, user.user_principal_name
    uri = provisioning_uri(secret, upn)
    if json_out:
        emit_json(
            {
                "directory_id": directory_id,
                "directory_name": directory_label,
                "admin_id": user_id,
                "admin_upn": upn,
                "totp_secret": secret,
                "otpauth_uri": uri,
            }
        )
        return
    typer.echo(f"Directory {directory_label!r} created ({directory_id}).")
    typer.echo(f"{upn} is its permanent Global Administrator ({user_id}).")
    typer.echo("")
    typer.echo("Authenticator (TOTP) secret for the administrator, shown only this once:")
    typer.echo(f"  secret: {secret}")
    typer.echo(f"  uri:    {uri}")
    typer.echo(
        "Add it to an authenticator app now (type the secret, or make a QR code of the uri)."
    )
    typer.echo("")
    typer.echo("Next steps:")
    typer.echo(f"  1. openpim serve   then sign in at {rt.settings.base_url} as {upn}")
    typer.echo(f"  2. enable PIM in the portal, or: openpim pim enable --as {upn}")
    typer.echo("  3. add a second Privileged Role Administrator, so one lost account cannot")
    typer.echo("     lock the directory: openpim user create ... then openpim assign ...")


dev_app = typer.Typer(help="Developer tools.", no_args_is_help=True)


@dev_app.command("seed")
def seed(
    users: Annotated[int, typer.Option(min=2)] = 100_000,
    schedules: Annotated[int, typer.Option(min=0)] = 1_000_000,
    audit_events: Annotated[int, typer.Option(min=0)] = 10_000_000,
    directories: Annotated[int, typer.Option(min=1)] = 1,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 1,
    summary: Annotated[
        str | None, typer.Option(help="Write the JSON summary (ids, admin logins) here.")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Drop every OpenPIM table first.")] = False,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Fill an empty database with the benchmark dataset (bulk, deterministic)."""
    from openpim.devtools.seed import seed_benchmark_dataset

    rt = open_runtime(database_url)
    rt.db.dispose()
    result = seed_benchmark_dataset(
        rt.settings.database_url,
        users=users,
        schedules=schedules,
        audit_events=audit_events,
        directories=directories,
        seed=seed,
        progress=lambda message: typer.echo(message, err=True),
        now=rt.clock.now(),
        summary_path=summary,
        reset=reset,
    )
    if json_out:
        emit_json(result)
        return
    for name, count in result["counts"].items():
        typer.echo(f"{name}: {count:,}")
    for admin in result["admins"]:
        typer.echo(
            f"admin {admin['user_principal_name']} password={admin['password']} "
            f"totp_secret={admin['totp_secret']}"
        )
