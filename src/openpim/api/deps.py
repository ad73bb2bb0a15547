"""What every route needs: the caller's credentials, a unit of work, and its access level.

Authentication happens inside the route's own transaction (`Caller.unit()` / `Caller.read()`):
the token lookup, then the service call, in one thread hop. Write routes check the token before
their write unit opens (so the unit acts as the right user) and again inside it, where the
token's last-use time commits with the change. Read routes authenticate in a read transaction
and open a write unit only for the rare token touch (once a minute per token), so GETs never
queue behind writers on SQLite. The access check (`Caller.access_check()`) skips the thread
hop and the ORM Session altogether: see api/access.py.

Authorisation is not decided here: services raise Forbidden. Each route only declares its
intended access level (`access(...)`) for the OpenAPI document and for the test that walks the
route table.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from openpim.access import checks, onestep
from openpim.api.inputs import StrictRoute, UtcDatetime
from openpim.auth import tokens
from openpim.auth.anonymous import anonymous_actor
from openpim.db import direct
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import Unauthorized
from openpim.runtime import Runtime

T = TypeVar("T")

API_PREFIX = "/api/v1"
SIGN_IN_PATH = f"{API_PREFIX}/auth/sign-in"
# Everything under API_PREFIX needs a bearer token, except these.
PUBLIC_PATHS = frozenset({SIGN_IN_PATH})
MAX_BODY_SIZE = 1024 * 1024

ACCESS_KEY = "x-openpim-access"
# Access levels a route declares (enforced by the services, documented in OpenAPI):
PUBLIC = "public"  # no token
SIGNED_IN = "signed-in"  # any signed-in user, acting on their own things
SELF_OR_READER = "self-or-reader"  # own data, or anyone's for PIM readers
READER = "reader"  # PIM readers: PRA, GA, Security Administrator/Reader, Global Reader
MANAGER = "manager"  # an active Privileged Role Administrator
USER_ADMIN = "user-admin"  # Global, User or Privileged Role Administrator
GLOBAL_ADMIN = "global-admin"  # an active Global Administrator (enabling PIM)
APPROVER = "approver"  # a named approver of the role, else a PRA
REQUESTER_OR_MANAGER = "requester-or-manager"
LEVELS = frozenset(
    {
        PUBLIC,
        SIGNED_IN,
        SELF_OR_READER,
        READER,
        MANAGER,
        USER_ADMIN,
        GLOBAL_ADMIN,
        APPROVER,
        REQUESTER_OR_MANAGER,
    }
)


def access(level: str) -> dict[str, Any]:
    """openapi_extra for a route: its access level, shown in /docs."""
    assert level in LEVELS, level
    return {ACCESS_KEY: level}


# Documented in OpenAPI by the app (openapi.add_bearer_security); parsed here by hand, since a
# security dependency would add a dependency level to every request, the hot path included.
BEARER_DESCRIPTION = (
    "A sign-in session token (POST /api/v1/auth/sign-in) or a personal API token (opk_...)."
)


@dataclasses.dataclass(frozen=True)
class Caller:
    """An authenticated-to-be request: the raw token and where it came from."""

    runtime: Runtime
    token: str
    client_address: str | None
    request_id: str | None
    # The app's reader for the access check on the event loop (access.pgfast on PostgreSQL,
    # access.sqlitefast on SQLite); None without the app's lifespan or on other databases.
    access_reader: onestep.AsyncAccessReader | None = None

    @contextmanager
    def unit(self) -> Iterator[Ctx]:
        """A write transaction acting as the token's user.

        The token is checked before the unit opens, so the unit (and any work it runs after a
        rollback, such as counting a wrong MFA code) acts as the right user, and checked again
        inside it, so a token revoked a moment ago cannot slip a change through; that second
        check also moves the token's last-use time when due.
        """
        actor = self._check()
        with self.runtime.unit(
            actor, client_address=self.client_address, request_id=self.request_id
        ) as ctx:
            current = tokens.authenticate(ctx, self.token)
            yield ctx if current == actor else dataclasses.replace(ctx, actor=current)

    @contextmanager
    def read(self) -> Iterator[Ctx]:
        """A read-only transaction acting as the token's user."""
        with self.runtime.read(anonymous_actor()) as ctx:
            actor, touch_due = tokens.check_token(ctx, self.token)
            yield dataclasses.replace(
                ctx, actor=actor, client_address=self.client_address, request_id=self.request_id
            )
        if touch_due:
            # Rare (once a minute per token), so GETs almost never wait for the write lock.
            self._touch(actor)

    async def access_check(
        self, user_id: uuid.UUID, at: datetime | None
    ) -> tuple[frozenset[uuid.UUID], datetime]:
        """The roles `user_id` holds active at `at` (default now), if this caller may ask.

        The access check's hot path: one statement (access.onestep). On PostgreSQL it runs on an
        asyncio connection (access.pgfast: no thread hop, no ORM, one round trip); on SQLite on
        the bare driver connection (db.direct) of the connection the app holds for it
        (access.sqlitefast; a pooled one without the app's lifespan), on the event-loop thread,
        since SQLite's reads never wait. Any other database runs the same rules statement by
        statement (access.checks) in the thread pool. The rare token touch (a write that may
        wait for a lock) always goes to the thread pool.
        """
        now = self.runtime.clock.now()
        reader = self.access_reader
        if reader is not None:
            answer = await reader.check(self.token, user_id, now, at, self.runtime.settings)
            roles, actor, touch_due = answer.roles, answer.actor, answer.touch_due
        elif self.runtime.db.dialect == "sqlite":
            roles, actor, touch_due = self._check_on_driver(user_id, now, at)
        else:
            roles, actor, touch_due = await run_in_threadpool(
                self._check_on_driver, user_id, now, at
            )
        if touch_due:
            await run_in_threadpool(self._touch, actor)
        return roles, now

    def _check_on_driver(
        self, user_id: uuid.UUID, now: datetime, at: datetime | None
    ) -> tuple[frozenset[uuid.UUID], Actor, bool]:
        settings = self.runtime.settings
        with direct.connect(self.runtime.db.engine) as conn:
            if conn.dialect.name == "sqlite":
                answer = onestep.check_sqlite(conn, self.token, user_id, now, at, settings)
                return answer.roles, answer.actor, answer.touch_due
            actor, touch_due = checks.authenticate_fast(conn, self.token, now, settings)
            roles = checks.active_roles_fast(conn, actor, user_id, now, at)
            return frozenset(roles), actor, touch_due

    def _touch(self, actor: Actor) -> None:
        with self.runtime.unit(actor, client_address=self.client_address) as ctx:
            tokens.touch(ctx, actor)

    def _check(self) -> Actor:
        # The same lookup and rules as tokens.check_token, on a bare driver connection: this
        # pre-check runs before every write and an ORM read transaction cost several times the
        # query.
        with direct.connect(self.runtime.db.engine) as conn:
            actor, _ = checks.authenticate_fast(
                conn, self.token, self.runtime.clock.now(), self.runtime.settings
            )
        return actor


def get_runtime(request: Request) -> Runtime:
    runtime = getattr(request.app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the application's runtime is not open (lifespan not started)")
    return runtime


def client_address(request: Request) -> str | None:
    client = request.scope.get("client")
    return str(client[0])[:64] if client else None


def request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def caller_of(request: Request) -> Caller:
    """The request's bearer credentials; 401 when there are none (the token is checked later,
    inside the route's transaction)."""
    # Straight from the ASGI scope: building Starlette's Headers costs more than this loop.
    value = b""
    for name, header in request.scope["headers"]:
        if name == b"authorization":
            value = header
            break
    scheme, _, token = value.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Sign in and send the token as 'Authorization: Bearer <token>'.",
            code="not_signed_in",
        )
    return Caller(
        runtime=get_runtime(request),
        token=token,
        client_address=client_address(request),
        request_id=request_id(request),
        access_reader=getattr(request.app.state, "access_reader", None),
    )


async def get_caller(request: Request) -> Caller:
    # async on purpose: no I/O here, and a sync dependency would cost a thread hop per request.
    return caller_of(request)


CallerDep = Annotated[Caller, Depends(get_caller)]

# Re-exported: every routes module takes its building blocks from here.
__all__ = ["CallerDep", "StrictRoute", "UtcDatetime", "access", "caller_of"]
