"""Directories (tenants) and their verified domains.

A domain proves membership of one directory only, so a domain verified anywhere is refused
(`domain_taken`). Verifying a domain makes the directory's users on it organizational;
removing one is refused while users' names are on it (`domain_in_use`): see account_kind.py.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from openpim.auth.permissions import require_manage_users
from openpim.directory.account_kind import make_users_organizational, users_on_domain
from openpim.directory.common import audit, directory_row, insert_or_conflict, normalize_domain
from openpim.directory.models import Directory, User, VerifiedDomain
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed

# --- creating and reading directories -------------------------------------------------------


def new_directory(ctx: Ctx, name: str, domains: list[str]) -> Directory:
    """A directory and its domains, with no permission check: create_directory and bootstrap
    each decide who may."""
    clean = name.strip()
    if not clean or len(clean) > 200:
        raise ValidationFailed(
            "The directory name must be 1 to 200 characters.", code="invalid_name", field="name"
        )
    normalized = list(dict.fromkeys(normalize_domain(d, field="domains") for d in domains))
    directory = Directory(id=uuid.uuid4(), name=clean, created_at=ctx.now)
    ctx.session.add(directory)
    ctx.session.flush()
    for domain in normalized:
        _claim_domain(ctx, directory.id, domain)
    audit(ctx, "directory.created", directory.id, name=clean, domains=normalized)
    return directory


def create_directory(ctx: Ctx, name: str, domains: list[str]) -> Directory:
    """A new directory with its verified domains. Only the server operator may create one."""
    if ctx.actor.kind != ActorKind.OPERATOR:
        raise Forbidden("Only the server operator can create directories.", code="not_operator")
    return new_directory(ctx, name, domains)


def get_directory(ctx: Ctx, directory_id: uuid.UUID) -> Directory:
    if ctx.actor.kind == ActorKind.USER and ctx.actor.directory_id != directory_id:
        raise NotFound("No such directory.", code="directory_not_found")
    return directory_row(ctx, directory_id)


def my_directories(ctx: Ctx) -> list[Directory]:
    """The directories in which the signed-in user's name has an account (the switcher).

    Each is a separate account with its own credentials; only the caller's own name is looked
    up, so nobody learns about other people's accounts.
    """
    if ctx.actor.kind != ActorKind.USER or ctx.actor.user_id is None:
        return []
    upn = select(User.user_principal_name).where(User.id == ctx.actor.user_id).scalar_subquery()
    statement = (
        select(Directory)
        .join(User, User.directory_id == Directory.id)
        .where(User.user_principal_name == upn)
        .order_by(Directory.name, Directory.id)
        .limit(50)
    )
    return list(ctx.session.execute(statement).scalars())


# --- verified domains -----------------------------------------------------------------------


def _domain_taken(domain: str) -> Conflict:
    return Conflict(f"The domain {domain} is already verified.", code="domain_taken")


def _claim_domain(ctx: Ctx, directory_id: uuid.UUID, domain: str) -> VerifiedDomain:
    """Verify `domain` for the directory unless any directory has it already."""
    taken = ctx.session.execute(
        select(VerifiedDomain.id).where(VerifiedDomain.domain == domain)
    ).first()
    if taken is not None:
        raise _domain_taken(domain)
    row = VerifiedDomain(
        id=uuid.uuid4(), directory_id=directory_id, domain=domain, created_at=ctx.now
    )
    # The read above gives the clear refusal; a racing claim is still caught by the unique index.
    insert_or_conflict(ctx, row, _domain_taken(domain))
    return row


def list_domains(ctx: Ctx, directory_id: uuid.UUID) -> list[VerifiedDomain]:
    get_directory(ctx, directory_id)
    statement = select(VerifiedDomain).where(VerifiedDomain.directory_id == directory_id)
    return list(ctx.session.execute(statement.order_by(VerifiedDomain.domain)).scalars())


def add_verified_domain(ctx: Ctx, directory_id: uuid.UUID, domain: str) -> VerifiedDomain:
    """Verify a domain for a directory; its users on that domain become organizational."""
    require_manage_users(ctx, directory_id)
    directory_row(ctx, directory_id)
    row = _claim_domain(ctx, directory_id, normalize_domain(domain))
    converted = make_users_organizational(ctx, directory_id, row.domain)
    audit(ctx, "domain.added", directory_id, domain=row.domain, users_now_organizational=converted)
    return row


def remove_verified_domain(ctx: Ctx, directory_id: uuid.UUID, domain: str) -> None:
    """Remove a verified domain; refused while users' names are on it (rename them first)."""
    require_manage_users(ctx, directory_id)
    value = normalize_domain(domain)
    row = ctx.session.execute(
        select(VerifiedDomain).where(
            VerifiedDomain.directory_id == directory_id, VerifiedDomain.domain == value
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(
            f"{value} is not a verified domain of this directory.", code="domain_not_found"
        )
    in_use = ctx.session.execute(
        select(User.id).where(users_on_domain(directory_id, value)).limit(1)
    ).first()
    if in_use is not None:
        raise Conflict(
            f"Users still sign in with names on {value}; rename or remove them first.",
            code="domain_in_use",
        )
    ctx.session.delete(row)
    audit(ctx, "domain.removed", directory_id, domain=value)


def directory_for_domain(ctx: Ctx, domain: str) -> uuid.UUID | None:
    """The directory owning a verified domain, for signing in to one of several directories.

    Anyone may ask: a verified domain is public (its DNS proves it) and names no user.
    """
    try:
        value = normalize_domain(domain)
    except ValidationFailed:
        return None
    return ctx.session.execute(
        select(VerifiedDomain.directory_id).where(VerifiedDomain.domain == value)
    ).scalar_one_or_none()
