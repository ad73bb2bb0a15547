"""Enabling PIM for a directory, and the security wizard's data and bulk conversion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, literal_column, or_, select

from openpim.access.service import is_active
from openpim.assignments.models import Assignment, MemberType
from openpim.assignments.operations.admin import assign_unchecked
from openpim.assignments.operations.convert import make_eligible
from openpim.assignments.queries import current_or_future, is_assigned, load_directory
from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage, require_read_all
from openpim.directory.models import AccountKind, User
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden
from openpim.notifications.outbox import enqueue
from openpim.roles import ids
from openpim.roles.models import RoleDefinition
from openpim.summaries.service import role_counts


def enable_pim(ctx: Ctx, directory_id: uuid.UUID) -> None:
    """Only an active Global Administrator with an organizational account may enable PIM.

    The enabler becomes permanent Security Administrator and Privileged Role Administrator.
    """
    directory = load_directory(ctx, directory_id, lock=True)
    if ctx.actor.kind != ActorKind.USER or ctx.actor.user_id is None:
        raise Forbidden("PIM is enabled by a signed-in Global Administrator.", code="not_a_user")
    user = ctx.session.get(User, ctx.actor.user_id)
    if user is None or user.directory_id != directory_id:
        raise Forbidden("You are not a member of this directory.", code="wrong_directory")
    if user.account_kind != AccountKind.ORGANIZATIONAL:
        raise Forbidden(
            "PIM can only be enabled with an organizational account of this directory, not an "
            "external (personal) account.",
            code="external_account",
        )
    if not is_active(ctx.session, user.id, ids.GLOBAL_ADMINISTRATOR, ctx.now):
        raise Forbidden(
            "Only an active Global Administrator can enable PIM.", code="not_global_administrator"
        )
    if directory.pim_enabled_at is not None:
        raise Conflict("PIM is already enabled for this directory.", code="pim_already_enabled")
    directory.pim_enabled_at = ctx.now
    directory.pim_enabled_by_id = user.id
    ctx.session.flush()
    for role_id in (ids.SECURITY_ADMINISTRATOR, ids.PRIVILEGED_ROLE_ADMINISTRATOR):
        held = [
            a
            for a in current_or_future(ctx.session, Assignment, user.id, role_id, ctx.now)
            if is_assigned(a) and a.end_at is None
        ]
        if not held:
            assign_unchecked(
                ctx,
                directory_id=directory_id,
                principal_id=user.id,
                role_id=role_id,
                member_type=MemberType.ACTIVE,
                justification="PIM enabled: the first enabler manages PIM",
            )
    record(
        ctx,
        AuditEntry(
            action="pim.enabled",
            directory_id=directory_id,
            target_user_id=user.id,
            target_label=user.user_principal_name,
        ),
    )
    enqueue(
        ctx,
        "pim.enabled",
        {"directory_id": directory_id, "enabled_by": user.user_principal_name},
        directory_id=directory_id,
    )


WIZARD_MEMBERS_PER_ROLE = 50
# Inline literal, not a bind: lets the planner use the partial index on assigned rows.
_ASSIGNED = Assignment.assignment_type == literal_column("'Assigned'")


@dataclass(frozen=True)
class WizardRole:
    role_id: uuid.UUID
    display_name: str
    permanent_count: int
    eligible_count: int
    permanent_members: list[tuple[uuid.UUID, str]]


def wizard_overview(ctx: Ctx, directory_id: uuid.UUID) -> list[WizardRole]:
    """Privileged roles with how many permanent and eligible members each has.

    The counts are the directory's cached member counts (summaries.role_counts: fresh after
    every membership change, recounted each minute); "permanent" here is every assigned
    member, with or without an end date, as the seed system's wizard counts them.
    """
    require_read_all(ctx, directory_id)
    now = ctx.now
    live_a = (Assignment.start_at <= now) & or_(
        Assignment.end_at.is_(None), Assignment.end_at > now
    )
    counts = role_counts(ctx, directory_id).by_role()
    members: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    # The first WIZARD_MEMBERS_PER_ROLE permanent members of each role, by name: the wizard
    # shows a page of them, and loading thousands per role made it slow on big directories.
    rank = (
        func.row_number()
        .over(partition_by=Assignment.role_id, order_by=User.user_principal_name)
        .label("rank")
    )
    ranked = (
        select(Assignment.role_id, User.id.label("user_id"), User.user_principal_name, rank)
        .join(User, User.id == Assignment.principal_id)
        .where(Assignment.directory_id == directory_id, _ASSIGNED, live_a)
        .subquery()
    )
    rows = ctx.session.execute(
        select(ranked.c.role_id, ranked.c.user_id, ranked.c.user_principal_name)
        .where(ranked.c.rank <= WIZARD_MEMBERS_PER_ROLE)
        .order_by(ranked.c.user_principal_name)
    )
    for role_id, user_id, upn in rows:
        members.setdefault(role_id, []).append((user_id, upn))
    roles = ctx.session.scalars(
        select(RoleDefinition)
        .where(
            RoleDefinition.is_privileged.is_(True),
            or_(RoleDefinition.directory_id.is_(None), RoleDefinition.directory_id == directory_id),
        )
        .order_by(RoleDefinition.display_name)
    )
    out = []
    for role in roles:
        held = counts.get(role.id)
        out.append(
            WizardRole(
                role_id=role.id,
                display_name=role.display_name,
                permanent_count=held.permanent + held.time_bound if held else 0,
                eligible_count=held.eligible if held else 0,
                permanent_members=members.get(role.id, []),
            )
        )
    return out


def wizard_convert(
    ctx: Ctx, directory_id: uuid.UUID, members: list[tuple[uuid.UUID, uuid.UUID]]
) -> int:
    """Convert the given (user, role) permanent admins to eligible, all or none.

    One transaction: if any conversion is refused (the last Global Administrator, say), none
    happens and the error names the reason.
    """
    require_manage(ctx, directory_id)
    for user_id, role_id in members:
        make_eligible(
            ctx,
            directory_id=directory_id,
            principal_id=user_id,
            role_id=role_id,
            justification="security wizard: convert permanent to eligible",
        )
    directory = load_directory(ctx, directory_id)
    directory.wizard_completed_at = ctx.now
    return len(members)
