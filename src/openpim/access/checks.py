"""Who may ask the access question about whom: the read-only check behind the access API.

A user may always ask about themselves (one query: the access query itself). Asking about
someone else needs a PIM reader role in the caller's directory, and the person asked about must
belong to that directory: a reader of one tenant learns nothing about another tenant's users.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from openpim.access.service import active_role_ids, is_active
from openpim.auth.permissions import require_read_all
from openpim.directory.models import User
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Ctx
from openpim.kit.errors import Forbidden, NotFound, ValidationFailed


def _instant(ctx: Ctx, at: datetime | None) -> datetime:
    if at is None:
        return ctx.now
    try:
        return ensure_utc(at)
    except ValueError:
        raise ValidationFailed(
            "at must carry a time zone (e.g. 2026-01-05T09:00:00Z).",
            code="naive_datetime",
            field="at",
        ) from None


def require_may_ask_about(ctx: Ctx, user_id: uuid.UUID) -> None:
    """Self, or a PIM reader asking about a user of their own directory."""
    if ctx.actor.user_id is not None and ctx.actor.user_id == user_id:
        return
    directory_id = ctx.actor.directory_id
    if directory_id is None:
        raise Forbidden("Only a signed-in user can ask about access.", code="not_a_user")
    require_read_all(ctx, directory_id)
    target = ctx.session.get(User, user_id)
    if target is None or target.directory_id != directory_id:
        raise NotFound("No such user in this directory.", code="user_not_found")


def active_roles_of(ctx: Ctx, user_id: uuid.UUID, at: datetime | None = None) -> set[uuid.UUID]:
    """Roles `user_id` holds active at `at` (default now), if the caller may ask."""
    instant = _instant(ctx, at)
    require_may_ask_about(ctx, user_id)
    return active_role_ids(ctx.session, user_id, instant)


def holds_role(
    ctx: Ctx, user_id: uuid.UUID, role_id: uuid.UUID, at: datetime | None = None
) -> bool:
    """Whether `user_id` holds `role_id` active at `at` (default now), if the caller may ask."""
    instant = _instant(ctx, at)
    require_may_ask_about(ctx, user_id)
    return is_active(ctx.session, user_id, role_id, instant)
