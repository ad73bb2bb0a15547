"""Who may ask the access question about whom, and the access check's fast path.

A user may always ask about themselves (one query: the access query itself). Asking about
someone else needs a PIM reader role in the caller's directory, and the person asked about must
belong to that directory: a reader of one tenant learns nothing about another tenant's users.

Two forms of the same rules:
- `holds_role` / `active_roles_of` take a Ctx (any adapter, inside its unit of work) and use
  openpim.auth.permissions;
- the `*_fast` functions take a bare Connection and run on the driver connection
  (db.direct), for the API's access-check hot path. They must answer exactly as the Ctx
  forms do; tests/api/test_access_checks.py holds them to it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, select

from openpim.access.service import active_role_ids, is_active
from openpim.auth import tokens
from openpim.auth.permissions import require_read_all
from openpim.config import Settings
from openpim.db import direct
from openpim.directory.models import User
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Actor, ActorKind, Ctx
from openpim.kit.errors import Forbidden, NotFound, ValidationFailed
from openpim.roles.ids import PIM_READER_ROLES

_users = cast(Table, User.__table__)
_DIRECTORY_OF_USER = select(_users.c.directory_id).where(_users.c.id == bindparam("user_id"))


def instant_of(now: datetime, at: datetime | None) -> datetime:
    """The instant asked about: `at` in UTC, or now; a naive or absurd `at` is refused."""
    if at is None:
        return now
    try:
        return ensure_utc(at)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            "at must be an instant with a time zone (e.g. 2026-01-05T09:00:00Z).",
            code="naive_datetime",
            field="at",
        ) from None


def not_found() -> NotFound:
    return NotFound("No such user in this directory.", code="user_not_found")


def not_a_user() -> Forbidden:
    return Forbidden("Only a signed-in user can ask about access.", code="not_a_user")


def not_pim_reader() -> Forbidden:
    return Forbidden(
        "Reading other users' PIM data needs an active Privileged Role Administrator, "
        "Global Administrator, Security Administrator, Security Reader or Global Reader role.",
        code="not_pim_reader",
    )


def require_may_ask_about(ctx: Ctx, user_id: uuid.UUID) -> None:
    """Self, or a PIM reader asking about a user of their own directory."""
    if ctx.actor.user_id is not None and ctx.actor.user_id == user_id:
        return
    directory_id = ctx.actor.directory_id
    if ctx.actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        if ctx.session.get(User, user_id) is None:
            raise not_found()
        return
    if directory_id is None:
        raise not_a_user()
    require_read_all(ctx, directory_id)
    target = ctx.session.get(User, user_id)
    if target is None or target.directory_id != directory_id:
        raise not_found()


def active_roles_of(ctx: Ctx, user_id: uuid.UUID, at: datetime | None = None) -> set[uuid.UUID]:
    """Roles `user_id` holds active at `at` (default now), if the caller may ask."""
    instant = instant_of(ctx.now, at)
    require_may_ask_about(ctx, user_id)
    return active_role_ids(ctx.session, user_id, instant)


def holds_role(
    ctx: Ctx, user_id: uuid.UUID, role_id: uuid.UUID, at: datetime | None = None
) -> bool:
    """Whether `user_id` holds `role_id` active at `at` (default now), if the caller may ask."""
    instant = instant_of(ctx.now, at)
    require_may_ask_about(ctx, user_id)
    return is_active(ctx.session, user_id, role_id, instant)


# --- the fast path --------------------------------------------------------------------------


def authenticate_fast(
    conn: Connection, raw_token: str, now: datetime, settings: Settings
) -> tuple[Actor, bool]:
    """tokens.check_token on a bare connection: the same lookup and the same rules."""
    row = direct.first(conn, tokens.TOKEN_BY_HASH, tokens.token_lookup(raw_token))
    return tokens.judge_token(row, now, settings)


def _require_may_ask_fast(
    conn: Connection, actor: Actor, user_id: uuid.UUID, now: datetime
) -> None:
    if actor.user_id is not None and actor.user_id == user_id:
        return
    if actor.user_id is None or actor.directory_id is None:
        raise not_a_user()
    # permissions.can_read_all for a user: a reader role, active now, in their own directory.
    if not active_role_ids(conn, actor.user_id, now) & PIM_READER_ROLES:
        raise not_pim_reader()
    target = direct.first(conn, _DIRECTORY_OF_USER, {"user_id": user_id})
    if target is None or target.directory_id != actor.directory_id:
        raise not_found()


def active_roles_fast(
    conn: Connection, actor: Actor, user_id: uuid.UUID, now: datetime, at: datetime | None
) -> set[uuid.UUID]:
    instant = instant_of(now, at)
    _require_may_ask_fast(conn, actor, user_id, now)
    return active_role_ids(conn, user_id, instant)


def holds_role_fast(
    conn: Connection,
    actor: Actor,
    user_id: uuid.UUID,
    role_id: uuid.UUID,
    now: datetime,
    at: datetime | None,
) -> bool:
    # active_role_ids rather than is_active: it is the one with the driver-level fast path, and
    # a user holds a handful of roles at most.
    return role_id in active_roles_fast(conn, actor, user_id, now, at)
