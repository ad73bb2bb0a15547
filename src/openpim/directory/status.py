"""Disabling and enabling users.

Disabling ends everything the user could use at once: their tokens are revoked, their pending
requests are withdrawn (Canceled) and their running (or scheduled) activations end, each with
its audit line (and outbox row for the ends), in the disable's transaction. Eligibilities
and permanent assignments stay: the access query already ignores disabled users, and enabling
the user again restores them. The last active Global Administrator or Privileged Role
Administrator of a directory can never be disabled; the directory row is locked first so two
concurrent disables cannot both pass.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from openpim.access.service import is_active
from openpim.assignments.guards import require_other_holder
from openpim.assignments.lifecycle import end_schedule
from openpim.assignments.models import Assignment, AssignmentType, EndReason
from openpim.assignments.operations.approval import cancel_for_disabled_user
from openpim.auth.permissions import require_manage_users
from openpim.auth.tokens import revoke_all_for_user
from openpim.directory.common import audit, directory_row, is_self, user_row
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict
from openpim.roles.ids import LAST_HOLDER_PROTECTED


def _refuse_last_holder(ctx: Ctx, user: User) -> None:
    for role_id in LAST_HOLDER_PROTECTED:
        if is_active(ctx.session, user.id, role_id, ctx.now):
            require_other_holder(ctx, user.directory_id, role_id, user.id, ctx.now)


def _end_activations(ctx: Ctx, user: User) -> int:
    """End the user's running and scheduled activations, each with its audit and outbox row."""
    rows = list(
        ctx.session.execute(
            select(Assignment)
            .where(
                Assignment.principal_id == user.id,
                Assignment.assignment_type == AssignmentType.ACTIVATED,
                or_(Assignment.end_at.is_(None), Assignment.end_at > ctx.now),
            )
            .with_for_update()
        ).scalars()
    )
    for row in rows:
        end_schedule(ctx, row, EndReason.USER_DISABLED, None)
    return len(rows)


def disable_user(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Block sign-in, revoke every token, withdraw pending requests and end running
    activations, all in one transaction."""
    require_manage_users(ctx, directory_id)
    directory_row(ctx, directory_id, lock=True)
    user = user_row(ctx, directory_id, user_id)
    if is_self(ctx, directory_id, user_id):
        raise Conflict("You cannot disable your own account.", code="cannot_disable_self")
    if not user.enabled:
        raise Conflict(f"{user.user_principal_name} is already disabled.", code="already_disabled")
    _refuse_last_holder(ctx, user)
    user.enabled = False
    user.disabled_at = ctx.now
    revoked = revoke_all_for_user(ctx, user.id)
    canceled = cancel_for_disabled_user(ctx, user)
    ended = _end_activations(ctx, user)
    audit(
        ctx,
        "user.disabled",
        directory_id,
        user,
        tokens_revoked=revoked,
        requests_canceled=canceled,
        activations_ended=ended,
    )
    return user


def enable_user(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> User:
    require_manage_users(ctx, directory_id)
    user = user_row(ctx, directory_id, user_id)
    if user.enabled:
        raise Conflict(f"{user.user_principal_name} is already enabled.", code="already_enabled")
    user.enabled = True
    user.disabled_at = None
    audit(ctx, "user.enabled", directory_id, user)
    return user
