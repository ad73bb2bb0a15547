"""Who may do what in PIM. Deny by default: every check names what it allows.

- manage (change assignments, settings, approvals as admin): an active Privileged Role
  Administrator of the directory, or the server operator (CLI).
- read everything: active PRA, Global Administrator, Security Administrator, Security Reader,
  Global Reader.
- everyone else: only their own roles, requests and history.
"""

from __future__ import annotations

import uuid

from openpim.access.service import active_role_ids
from openpim.directory.models import AccountKind, User
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Forbidden
from openpim.roles.ids import (
    GLOBAL_ADMINISTRATOR,
    PIM_READER_ROLES,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    USER_ADMINISTRATOR,
)


def _roles(ctx: Ctx) -> set[uuid.UUID]:
    if ctx.actor.user_id is None:
        return set()
    return active_role_ids(ctx.session, ctx.actor.user_id, ctx.now)


def _same_directory(ctx: Ctx, directory_id: uuid.UUID) -> bool:
    return ctx.actor.directory_id == directory_id


def _is_organizational(ctx: Ctx) -> bool:
    """External (personal) accounts may hold roles but never manage PIM."""
    if ctx.actor.user_id is None:
        return False
    user = ctx.session.get(User, ctx.actor.user_id)
    return user is not None and user.account_kind == AccountKind.ORGANIZATIONAL


def can_manage(ctx: Ctx, directory_id: uuid.UUID) -> bool:
    if ctx.actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        return True
    return (
        _same_directory(ctx, directory_id)
        and PRIVILEGED_ROLE_ADMINISTRATOR in _roles(ctx)
        and _is_organizational(ctx)
    )


def can_read_all(ctx: Ctx, directory_id: uuid.UUID) -> bool:
    if ctx.actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        return True
    return _same_directory(ctx, directory_id) and bool(_roles(ctx) & PIM_READER_ROLES)


def can_manage_users(ctx: Ctx, directory_id: uuid.UUID) -> bool:
    """Directory administration (users, domains): Global or User Administrator, or PRA."""
    if ctx.actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        return True
    allowed = {GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR}
    return _same_directory(ctx, directory_id) and bool(_roles(ctx) & allowed)


def require_manage(ctx: Ctx, directory_id: uuid.UUID) -> None:
    if not can_manage(ctx, directory_id):
        raise Forbidden(
            "Only an active Privileged Role Administrator can change PIM.",
            code="not_privileged_role_administrator",
        )


def require_read_all(ctx: Ctx, directory_id: uuid.UUID) -> None:
    if not can_read_all(ctx, directory_id):
        raise Forbidden(
            "Reading other users' PIM data needs an active Privileged Role Administrator, "
            "Global Administrator, Security Administrator, Security Reader or Global Reader role.",
            code="not_pim_reader",
        )


def require_manage_users(ctx: Ctx, directory_id: uuid.UUID) -> None:
    if not can_manage_users(ctx, directory_id):
        raise Forbidden(
            "Managing users needs an active Global Administrator, User Administrator or "
            "Privileged Role Administrator role.",
            code="not_user_administrator",
        )


def require_self_or_read_all(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> None:
    if ctx.actor.user_id == user_id and _same_directory(ctx, directory_id):
        return
    require_read_all(ctx, directory_id)
