"""The role catalog as a directory sees it: Microsoft's built-in roles plus its own custom roles.

Anyone signed in to a directory may read its catalog (users need it to find the roles they may
activate). Changing custom roles needs PIM's manage right. Built-in roles are fixed: their ids
are Microsoft's template ids, which Graph-speaking clients rely on.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, or_, select

from openpim.assignments.models import Assignment, Eligibility, RoleRequest
from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage
from openpim.directory.models import Directory
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from openpim.policies.models import RolePolicy
from openpim.roles.models import RoleDefinition

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000


def require_directory_member(ctx: Ctx, directory_id: uuid.UUID) -> None:
    """Signed-in users of the directory, the operator and the system may read its catalog."""
    if ctx.actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        if ctx.session.get(Directory, directory_id) is None:
            raise NotFound("No such directory.", code="directory_not_found")
        return
    if ctx.actor.user_id is None or ctx.actor.directory_id != directory_id:
        raise Forbidden(
            "Only signed-in users of this directory can see its roles.",
            code="not_directory_member",
        )


def _role_visible_to(role: RoleDefinition | None, directory_id: uuid.UUID) -> bool:
    return role is not None and (role.is_built_in or role.directory_id == directory_id)


def find_role(ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID) -> RoleDefinition:
    """The role as `directory_id` sees it, without an authorisation check (for other services).

    Another directory's custom role is reported as missing, so ids cannot be probed across
    directories.
    """
    role = ctx.session.get(RoleDefinition, role_id)
    if role is None or not _role_visible_to(role, directory_id):
        raise NotFound("No such role in this directory.", code="role_not_found")
    return role


def list_roles(ctx: Ctx, directory_id: uuid.UUID) -> list[RoleDefinition]:
    """Built-in roles and this directory's custom roles, ordered by name."""
    require_directory_member(ctx, directory_id)
    rows = ctx.session.scalars(
        select(RoleDefinition).where(
            or_(RoleDefinition.is_built_in.is_(True), RoleDefinition.directory_id == directory_id)
        )
    ).all()
    return sorted(rows, key=lambda r: (r.display_name.casefold(), str(r.id)))


def get_role(ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID) -> RoleDefinition:
    require_directory_member(ctx, directory_id)
    return find_role(ctx, directory_id, role_id)


def _clean_name(display_name: str) -> str:
    name = display_name.strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"A role name must be 1 to {NAME_MAX_LENGTH} characters long.",
            code="role_name_invalid",
            field="display_name",
        )
    if not name.isprintable():
        raise ValidationFailed(
            "A role name cannot contain control characters.",
            code="role_name_invalid",
            field="display_name",
        )
    return name


def _clean_description(description: str) -> str:
    text = description.strip()
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise ValidationFailed(
            f"A role description can be at most {DESCRIPTION_MAX_LENGTH} characters long.",
            code="role_description_too_long",
            field="description",
        )
    return text


def _lock_directory(ctx: Ctx, directory_id: uuid.UUID) -> Directory:
    # Name uniqueness is "case-insensitive among built-ins and this directory's roles", which no
    # index can express across the NULL directory of built-ins; serialising custom-role changes
    # per directory on its row makes the check-then-write safe on PostgreSQL. SQLite write units
    # already hold the database lock.
    directory = ctx.session.execute(
        select(Directory).where(Directory.id == directory_id).with_for_update()
    ).scalar_one_or_none()
    if directory is None:
        raise NotFound("No such directory.", code="directory_not_found")
    return directory


def _require_unique_name(
    ctx: Ctx, directory_id: uuid.UUID, name: str, *, exclude: uuid.UUID | None = None
) -> None:
    # Compared in Python with casefold() rather than SQL lower(): SQLite's lower() only folds
    # ASCII, and one rule on both backends matters more than saving a small read.
    rows = ctx.session.execute(
        select(RoleDefinition.id, RoleDefinition.display_name).where(
            or_(RoleDefinition.is_built_in.is_(True), RoleDefinition.directory_id == directory_id)
        )
    )
    wanted = name.casefold()
    for role_id, existing in rows:
        if role_id != exclude and existing.casefold() == wanted:
            raise Conflict(
                f"A role named {existing!r} already exists in this directory.",
                code="role_name_taken",
            )


def _custom_role_for_change(
    ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID, verb: str
) -> RoleDefinition:
    role = ctx.session.execute(
        select(RoleDefinition).where(RoleDefinition.id == role_id).with_for_update()
    ).scalar_one_or_none()
    if role is None or not _role_visible_to(role, directory_id):
        raise NotFound("No such role in this directory.", code="role_not_found")
    if role.is_built_in:
        raise Forbidden(
            f"{role.display_name} is a built-in role and cannot be {verb}.",
            code="built_in_role",
        )
    return role


def create_custom_role(
    ctx: Ctx, directory_id: uuid.UUID, display_name: str, description: str = ""
) -> RoleDefinition:
    require_manage(ctx, directory_id)
    name = _clean_name(display_name)
    text = _clean_description(description)
    _lock_directory(ctx, directory_id)
    _require_unique_name(ctx, directory_id, name)
    role = RoleDefinition(
        directory_id=directory_id,
        display_name=name,
        description=text,
        is_built_in=False,
        mfa_always_required=False,
        # A role is put under PIM because holding it matters: show it with the privileged ones.
        is_privileged=True,
        created_at=ctx.now,
    )
    ctx.session.add(role)
    ctx.session.flush()
    record(
        ctx,
        AuditEntry(
            action="role.created",
            directory_id=directory_id,
            role_id=role.id,
            role_label=role.display_name,
            detail={"display_name": name, "description": text},
        ),
    )
    return role


def rename_custom_role(
    ctx: Ctx,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    display_name: str,
    *,
    description: str | None = None,
) -> RoleDefinition:
    """Rename a custom role (and optionally change its description). No change, no audit."""
    require_manage(ctx, directory_id)
    name = _clean_name(display_name)
    text = None if description is None else _clean_description(description)
    _lock_directory(ctx, directory_id)
    role = _custom_role_for_change(ctx, directory_id, role_id, "renamed")
    changes: dict[str, dict[str, str]] = {}
    if name != role.display_name:
        _require_unique_name(ctx, directory_id, name, exclude=role.id)
        changes["display_name"] = {"old": role.display_name, "new": name}
        role.display_name = name
    if text is not None and text != role.description:
        changes["description"] = {"old": role.description, "new": text}
        role.description = text
    if not changes:
        return role
    record(
        ctx,
        AuditEntry(
            action="role.renamed",
            directory_id=directory_id,
            role_id=role.id,
            role_label=role.display_name,
            detail=changes,
        ),
    )
    return role


def delete_custom_role(ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID) -> None:
    """Delete a custom role nobody has ever held or asked for.

    Any eligibility, assignment or request row - even an ended one - keeps the role, so history
    always names a role that exists.
    """
    require_manage(ctx, directory_id)
    _lock_directory(ctx, directory_id)
    # The row lock (taken in _custom_role_for_change) makes a concurrent insert that references
    # the role wait for us, or makes us see its row once it commits: no orphan, no false "unused".
    role = _custom_role_for_change(ctx, directory_id, role_id, "deleted")
    for model, what in (
        (Eligibility, "eligibility"),
        (Assignment, "assignment"),
        (RoleRequest, "request"),
    ):
        used = ctx.session.scalar(select(exists().where(model.role_id == role.id)))
        if used:
            raise Conflict(
                f"{role.display_name} cannot be deleted: at least one {what} refers to it. "
                "Roles that anyone has held or requested are kept for the history.",
                code="role_in_use",
                extra={"referenced_by": what},
            )
    # Its settings belong to the role and go with it; they are not a use of the role.
    had_settings = bool(ctx.session.scalar(select(exists().where(RolePolicy.role_id == role.id))))
    ctx.session.execute(delete(RolePolicy).where(RolePolicy.role_id == role.id))
    name = role.display_name
    ctx.session.delete(role)
    ctx.session.flush()
    record(
        ctx,
        AuditEntry(
            action="role.deleted",
            directory_id=directory_id,
            role_id=role_id,
            role_label=name,
            detail={"display_name": name, "had_custom_settings": had_settings},
        ),
    )
