"""Shared pieces of the directory services: name validation, lookups, inserts and the audit line."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from openpim.audit.writer import AuditEntry, record
from openpim.directory.models import Directory, User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})+$")
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")

# --- validation -----------------------------------------------------------------------------


def normalize_domain(domain: str, *, field: str = "domain") -> str:
    """A lower-case DNS host name with at least two labels (contoso.com), or ValidationFailed."""
    value = domain.strip().lower().rstrip(".")
    if len(value) > 253 or not _DOMAIN.match(value) or value.rsplit(".", 1)[1].isdigit():
        raise ValidationFailed(
            f"{domain!r} is not a valid domain name (e.g. contoso.com; use the xn-- form for "
            "international names).",
            code="invalid_domain",
            field=field,
        )
    return value


def normalize_upn(upn: str, *, field: str = "user_principal_name") -> str:
    """A lower-case user principal name local@domain, or ValidationFailed."""
    value = upn.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or len(value) > 320 or not _LOCAL.match(local):
        raise ValidationFailed(
            f"{upn!r} is not a valid user principal name (e.g. alice@contoso.com).",
            code="invalid_user_principal_name",
            field=field,
        )
    return f"{local}@{normalize_domain(domain, field=field)}"


def normalize_display_name(name: str) -> str:
    value = name.strip()
    if not value or len(value) > 256:
        raise ValidationFailed(
            "The display name must be 1 to 256 characters.",
            code="invalid_display_name",
            field="display_name",
        )
    return value


# --- lookups --------------------------------------------------------------------------------


def directory_row(ctx: Ctx, directory_id: uuid.UUID, *, lock: bool = False) -> Directory:
    statement = select(Directory).where(Directory.id == directory_id)
    directory = ctx.session.execute(
        statement.with_for_update() if lock else statement
    ).scalar_one_or_none()
    if directory is None:
        raise NotFound("No such directory.", code="directory_not_found")
    return directory


def insert_or_conflict(ctx: Ctx, row: object, conflict: Conflict) -> None:
    """Insert under a savepoint so a racing duplicate becomes a clear 409, not a dead session."""
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:
        raise conflict from None


def audit(
    ctx: Ctx, action: str, directory_id: uuid.UUID, user: User | None = None, **detail: object
) -> None:
    record(
        ctx,
        AuditEntry(
            action=action,
            directory_id=directory_id,
            target_user_id=user.id if user else None,
            target_label=user.user_principal_name if user else None,
            detail=dict(detail),
        ),
    )


def is_self(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return ctx.actor.user_id == user_id and ctx.actor.directory_id == directory_id


def user_row(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = ctx.session.get(User, user_id)
    if user is None or user.directory_id != directory_id:
        raise NotFound("No such user in this directory.", code="user_not_found")
    return user
