"""Disabling and enabling users.

Disabling ends everything the user could use at once: their tokens are revoked and their
running (or scheduled) activations end, each with its audit line and outbox row. Eligibilities
and permanent assignments stay: the access query already ignores disabled users, and enabling
the user again restores them. The last active Global Administrator or Privileged Role
Administrator of a directory can never be disabled; the directory row is locked first so two
concurrent disables cannot both pass.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from openpim.access.service import is_active
from openpim.assignments.models import Assignment, AssignmentType, EndReason
from openpim.audit.writer import AuditEntry, record_many
from openpim.auth.permissions import require_manage_users
from openpim.auth.tokens import revoke_all_for_user
from openpim.directory.common import audit, directory_row, is_self, user_row
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict
from openpim.notifications.outbox import enqueue
from openpim.roles.ids import GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR
from openpim.roles.models import RoleDefinition

_LAST_HOLDER = {
    GLOBAL_ADMINISTRATOR: ("last_global_administrator", "Global Administrator"),
    PRIVILEGED_ROLE_ADMINISTRATOR: (
        "last_privileged_role_administrator",
        "Privileged Role Administrator",
    ),
}


def _refuse_last_holder(ctx: Ctx, user: User) -> None:
    for role_id, (code, label) in _LAST_HOLDER.items():
        if not is_active(ctx.session, user.id, role_id, ctx.now):
            continue
        other = ctx.session.execute(
            select(Assignment.id)
            .join(User, User.id == Assignment.principal_id)
            .where(
                Assignment.directory_id == user.directory_id,
                Assignment.role_id == role_id,
                Assignment.principal_id != user.id,
                Assignment.start_at <= ctx.now,
                or_(Assignment.end_at.is_(None), Assignment.end_at > ctx.now),
                User.enabled.is_(True),
            )
            .limit(1)
        ).first()
        if other is None:
            raise Conflict(
                f"{user.user_principal_name} is the last active {label} of this directory; "
                f"make someone else {label} first.",
                code=code,
            )


def _end_activations(ctx: Ctx, user: User) -> int:
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
    if not rows:
        return 0
    names = dict(
        ctx.session.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_({a.role_id for a in rows})
            )
        ).all()
    )
    entries: list[AuditEntry] = []
    for row in rows:
        row.end_at = ctx.now
        row.ended_reason = EndReason.USER_DISABLED
        row.end_recorded_at = ctx.now
        detail = {
            "reason": EndReason.USER_DISABLED.value,
            "eligibility_id": str(row.eligibility_id),
        }
        entries.append(
            AuditEntry(
                action="activation.ended",
                directory_id=row.directory_id,
                target_user_id=user.id,
                target_label=user.user_principal_name,
                role_id=row.role_id,
                role_label=names.get(row.role_id),
                schedule_id=row.id,
                start_at=row.start_at,
                end_at=row.end_at,
                detail=detail,
            )
        )
        enqueue(
            ctx,
            "activation.ended",
            {
                "schedule_id": row.id,
                "principal_id": user.id,
                "user_principal_name": user.user_principal_name,
                "role_id": row.role_id,
                "role_name": names.get(row.role_id),
                "start_at": row.start_at.isoformat(),
                "end_at": ctx.now.isoformat(),
                "ended_reason": EndReason.USER_DISABLED.value,
                "actor": ctx.actor.label,
            },
            directory_id=row.directory_id,
        )
    record_many(ctx, entries)
    return len(rows)


def disable_user(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Block sign-in, revoke every token and end running activations, all in one transaction."""
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
    ended = _end_activations(ctx, user)
    audit(ctx, "user.disabled", directory_id, user, tokens_revoked=revoked, activations_ended=ended)
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
