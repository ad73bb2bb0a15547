"""The authenticated caller's ids, as the services want them (their own directory first)."""

from __future__ import annotations

import uuid

from openpim.kit.context import Ctx
from openpim.kit.errors import Unauthorized


def _not_signed_in() -> Unauthorized:
    return Unauthorized("Sign in first.", code="not_signed_in")


def directory_of(ctx: Ctx) -> uuid.UUID:
    """The caller's directory: every directory-scoped call acts there, never elsewhere."""
    if ctx.actor.directory_id is None:
        raise _not_signed_in()
    return ctx.actor.directory_id


def user_of(ctx: Ctx) -> uuid.UUID:
    if ctx.actor.user_id is None:
        raise _not_signed_in()
    return ctx.actor.user_id


def token_of(ctx: Ctx) -> uuid.UUID:
    if ctx.actor.token_id is None:
        raise _not_signed_in()
    return ctx.actor.token_id
