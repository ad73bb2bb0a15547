"""The FastAPI application: routers, middleware, error handlers and the lifespan.

The app owns only the wiring. The Runtime (settings, database, clock) is opened here unless the
caller hands one in (tests, benchmarks); the schema is not touched (`openpim migrate` does
that). When settings.run_worker_in_server is on, the expiry/outbox worker runs in a thread of
this process and is stopped on shutdown. On SQLite a thread moves the write-ahead log into the
database file (db.checkpoint), so no request pays for a checkpoint.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import configure_mappers

from openpim.access import pgfast, sqlitefast
from openpim.access.pgfast import AccessReader
from openpim.access.sqlitefast import SqliteAccessReader
from openpim.api import (
    access,
    alerts,
    audit,
    auth,
    directory,
    errors,
    health,
    membership,
    notifications,
    pim,
    reports,
    requests,
    reviews,
)
from openpim.api import roles as roles_api
from openpim.api.deps import API_PREFIX, MAX_BODY_SIZE, PUBLIC_PATHS
from openpim.api.middleware import RequestContextMiddleware
from openpim.api.openapi import add_bearer_security
from openpim.config import Settings, get_settings
from openpim.db.checkpoint import WalCheckpointer
from openpim.graph import router as graph_router
from openpim.kit.clock import Clock
from openpim.runtime import Runtime
from openpim.web import install as install_web

log = logging.getLogger("openpim.app")

WORKER_STOP_TIMEOUT_SECONDS = 10.0

API_DESCRIPTION = """\
Privileged Identity Management: just-in-time admin roles, approvals, expiry and a
tamper-evident audit.

Every route under /api/v1 except `POST /api/v1/auth/sign-in` needs
`Authorization: Bearer <token>` (a sign-in session or a personal API token). Errors are
`application/problem+json` (RFC 9457) with a stable `code`. Times are ISO-8601 in UTC,
durations ISO-8601 (`PT1H`). Each route's `x-openpim-access` says who may call it.
"""


async def _open_access_reader(runtime: Runtime) -> AccessReader | SqliteAccessReader | None:
    """The event loop's access-check reader: an asyncio PostgreSQL pool (access.pgfast) or a
    SQLite connection held for the loop (access.sqlitefast)."""
    reader: AccessReader | SqliteAccessReader
    if pgfast.supported(runtime.db.engine):
        reader = AccessReader(runtime.db.engine)
    elif sqlitefast.supported(runtime.db.engine):
        reader = SqliteAccessReader(runtime.db.engine)
    else:
        return None
    await reader.open()
    return reader


def _start_checkpointer(runtime: Runtime) -> WalCheckpointer | None:
    """SQLite: move the WAL into the database file off the request path (db.checkpoint)."""
    if runtime.db.dialect != "sqlite":
        return None
    checkpointer = WalCheckpointer(runtime.db.engine)
    checkpointer.start()
    return checkpointer


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, mapped classes, routes, compiled statements) out of
    the garbage collector's full passes, which otherwise walk all of it again and again.

    Measured under wrk (PostgreSQL access check, 32 connections): full collections of
    160-210 ms every few seconds set the p99 at 207 ms; with start-up frozen, 25 ms. No
    collection first (a full pass costs as much as those pauses, on every start in the tests):
    the little start-up garbage frozen with the rest is released by the unfreeze at shutdown.
    The ORM's mappers are configured first, so their ~30 ms is paid here rather than by the
    first request, and what it builds is frozen with the rest.
    """
    configure_mappers()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    start_worker: bool | None = None,
) -> FastAPI:
    """Build the app. `start_worker` None follows settings.run_worker_in_server."""
    if settings is None:
        settings = runtime.settings if runtime is not None else get_settings()
    owns_runtime = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = runtime or Runtime.from_settings(settings, clock)
        app.state.runtime = active
        # First, before any thread connects: it adds a "connect" listener to the engine, and
        # SQLAlchemy walks those listeners unlocked while making a connection (a background
        # loop's first connection failed with "deque mutated during iteration" when it ran
        # after the loops had started).
        checkpointer = _start_checkpointer(active)
        run_worker = settings.run_worker_in_server if start_worker is None else start_worker
        loops = None
        if run_worker:
            from openpim import background

            loops = background.start(active)
        reader = await _open_access_reader(active)
        app.state.access_reader = reader
        _freeze_startup_objects()
        try:
            yield
        finally:
            gc.unfreeze()
            if checkpointer is not None:
                checkpointer.stop()
            app.state.access_reader = None
            if reader is not None:
                await reader.close()
            if loops is not None:
                loops.stop(WORKER_STOP_TIMEOUT_SECONDS)
            if owns_runtime:
                active.db.dispose()

    app = FastAPI(
        title="OpenPIM",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    if runtime is not None:
        # Usable without the lifespan too (TestClient outside a `with` block).
        app.state.runtime = runtime
    errors.install(app)
    add_bearer_security(app)
    app.add_middleware(
        RequestContextMiddleware,
        api_prefix=API_PREFIX,
        public_paths=PUBLIC_PATHS,
        max_body_size=MAX_BODY_SIZE,
    )
    # Routes match in order: the access check, the hot path, is tried first.
    access.install(app, API_PREFIX)
    app.include_router(health.router)
    for module in (
        auth,
        directory,
        pim,
        roles_api,
        membership,
        requests,
        audit,
        alerts,
        reviews,
        reports,
        notifications,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    install_web(app)
    app.include_router(graph_router)
    return app
