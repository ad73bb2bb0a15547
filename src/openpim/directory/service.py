"""Directories, verified domains and users.

A user is an *organizational* account when the domain of their user principal name (UPN) is a
verified domain of their directory, else an *external* account; the kind is stored and kept in
step when a domain is verified. A domain proves membership of one directory only.

Disabling and enabling live in directory/status.py and are re-exported here, so adapters import
every directory operation from this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from openpim.assignments.models import Assignment, AssignmentType
from openpim.audit.writer import AuditEntry, record
from openpim.auth import passwords
from openpim.auth.mfa import new_secret, seal_secret
from openpim.auth.permissions import can_manage_users, can_read_all, require_manage_users
from openpim.auth.tokens import revoke_all_for_user
from openpim.directory.common import (
    audit,
    directory_row,
    is_self,
    normalize_display_name,
    normalize_domain,
    normalize_upn,
    user_row,
)
from openpim.directory.models import AccountKind, Directory, User, VerifiedDomain
from openpim.directory.status import disable_user, enable_user
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from openpim.kit.pagination import require_page
from openpim.roles.ids import GLOBAL_ADMINISTRATOR

__all__ = [
    "UserPage",
    "add_verified_domain",
    "bootstrap",
    "create_directory",
    "create_user",
    "directory_for_domain",
    "disable_user",
    "enable_user",
    "find_user_by_upn",
    "get_directory",
    "get_user",
    "is_bootstrapped",
    "list_domains",
    "list_users",
    "my_directories",
    "normalize_domain",
    "normalize_upn",
    "remove_verified_domain",
    "set_password",
    "users_statement",
]

MAX_PAGE = 500

# --- directories and domains ----------------------------------------------------------------


def _insert(ctx: Ctx, row: object, conflict: Conflict) -> None:
    """Insert under a savepoint so a racing duplicate becomes a clear 409, not a dead session."""
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:
        raise conflict from None


def _domain_taken(domain: str) -> Conflict:
    return Conflict(f"The domain {domain} is already verified.", code="domain_taken")


def _add_domain(ctx: Ctx, directory_id: uuid.UUID, domain: str) -> VerifiedDomain:
    taken = ctx.session.execute(
        select(VerifiedDomain.id).where(VerifiedDomain.domain == domain)
    ).first()
    if taken is not None:
        raise _domain_taken(domain)
    row = VerifiedDomain(
        id=uuid.uuid4(), directory_id=directory_id, domain=domain, created_at=ctx.now
    )
    _insert(ctx, row, _domain_taken(domain))
    return row


def _new_directory(ctx: Ctx, name: str, domains: list[str]) -> Directory:
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
        _add_domain(ctx, directory.id, domain)
    audit(ctx, "directory.created", directory.id, name=clean, domains=normalized)
    return directory


def create_directory(ctx: Ctx, name: str, domains: list[str]) -> Directory:
    """A new directory with its verified domains. Only the server operator may create one."""
    if ctx.actor.kind != ActorKind.OPERATOR:
        raise Forbidden("Only the server operator can create directories.", code="not_operator")
    return _new_directory(ctx, name, domains)


def get_directory(ctx: Ctx, directory_id: uuid.UUID) -> Directory:
    if ctx.actor.kind == ActorKind.USER and ctx.actor.directory_id != directory_id:
        raise NotFound("No such directory.", code="directory_not_found")
    return directory_row(ctx, directory_id)


def list_domains(ctx: Ctx, directory_id: uuid.UUID) -> list[VerifiedDomain]:
    get_directory(ctx, directory_id)
    statement = select(VerifiedDomain).where(VerifiedDomain.directory_id == directory_id)
    return list(ctx.session.execute(statement.order_by(VerifiedDomain.domain)).scalars())


def _users_on_domain(directory_id: uuid.UUID, domain: str) -> ColumnElement[bool]:
    return and_(
        User.directory_id == directory_id,
        User.user_principal_name.endswith(f"@{domain}", autoescape=True),
    )


def add_verified_domain(ctx: Ctx, directory_id: uuid.UUID, domain: str) -> VerifiedDomain:
    """Verify a domain for a directory; its users on that domain become organizational."""
    require_manage_users(ctx, directory_id)
    directory_row(ctx, directory_id)
    row = _add_domain(ctx, directory_id, normalize_domain(domain))
    users = ctx.session.execute(
        select(User).where(_users_on_domain(directory_id, row.domain))
    ).scalars()
    converted = 0
    for user in users:
        if user.account_kind != AccountKind.ORGANIZATIONAL:
            user.account_kind = AccountKind.ORGANIZATIONAL
            converted += 1
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
        select(User.id).where(_users_on_domain(directory_id, value)).limit(1)
    ).first()
    if in_use is not None:
        raise Conflict(
            f"Users still sign in with names on {value}; rename or remove them first.",
            code="domain_in_use",
        )
    ctx.session.delete(row)
    audit(ctx, "domain.removed", directory_id, domain=value)


# --- users ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    # Pass as `after` to get the next page; None on the last page.
    next_after: str | None


def _account_kind(ctx: Ctx, directory_id: uuid.UUID, upn: str) -> AccountKind:
    verified = ctx.session.execute(
        select(VerifiedDomain.id).where(
            VerifiedDomain.directory_id == directory_id,
            VerifiedDomain.domain == upn.rpartition("@")[2],
        )
    ).first()
    return AccountKind.ORGANIZATIONAL if verified else AccountKind.EXTERNAL


def _new_user(
    ctx: Ctx, directory_id: uuid.UUID, upn: str, display_name: str, password: str | None
) -> User:
    upn = normalize_upn(upn)
    name = normalize_display_name(display_name)
    if password is not None:
        passwords.check_policy(password)
    exists = Conflict(f"A user named {upn} already exists in this directory.", code="user_exists")
    taken = ctx.session.execute(
        select(User.id).where(User.directory_id == directory_id, User.user_principal_name == upn)
    ).first()
    if taken is not None:
        raise exists
    user = User(
        id=uuid.uuid4(),
        directory_id=directory_id,
        user_principal_name=upn,
        display_name=name,
        account_kind=_account_kind(ctx, directory_id, upn),
        enabled=True,
        password_hash=passwords.hash_password(password) if password is not None else None,
        created_at=ctx.now,
    )
    _insert(ctx, user, exists)
    audit(
        ctx,
        "user.created",
        directory_id,
        user,
        account_kind=user.account_kind,
        has_password=password is not None,
    )
    return user


def create_user(
    ctx: Ctx,
    directory_id: uuid.UUID,
    user_principal_name: str,
    display_name: str,
    password: str | None = None,
) -> User:
    """A new user. Without a password the account cannot sign in until one is set."""
    require_manage_users(ctx, directory_id)
    directory_row(ctx, directory_id)
    return _new_user(ctx, directory_id, user_principal_name, display_name, password)


def _require_user_reader(ctx: Ctx, directory_id: uuid.UUID) -> None:
    if not (can_manage_users(ctx, directory_id) or can_read_all(ctx, directory_id)):
        raise Forbidden(
            "Listing users needs a user administrator or PIM reader role.", code="not_user_reader"
        )


def get_user(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> User:
    if not is_self(ctx, directory_id, user_id):
        _require_user_reader(ctx, directory_id)
    return user_row(ctx, directory_id, user_id)


def find_user_by_upn(ctx: Ctx, directory_id: uuid.UUID, user_principal_name: str) -> User | None:
    upn = user_principal_name.strip().lower()
    user = ctx.session.execute(
        select(User).where(User.directory_id == directory_id, User.user_principal_name == upn)
    ).scalar_one_or_none()
    if user is None or not is_self(ctx, directory_id, user.id):
        _require_user_reader(ctx, directory_id)
    return user


def users_statement(ctx: Ctx, directory_id: uuid.UUID) -> Select[User]:
    """Authorise a listing now and return the directory's users, for callers that page and
    filter it themselves (Graph's $filter)."""
    _require_user_reader(ctx, directory_id)
    return select(User).where(User.directory_id == directory_id)


def list_users(
    ctx: Ctx,
    directory_id: uuid.UUID,
    search: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> UserPage:
    """Users by UPN, `limit` at a time. `after` is the previous page's `next_after` (keyset:
    stable under inserts, and as cheap on page 1000 as on page 1)."""
    statement = users_statement(ctx, directory_id)
    require_page(limit, MAX_PAGE)
    if search and search.strip():
        term = search.strip().lower()
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                User.user_principal_name.like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    if after:
        statement = statement.where(User.user_principal_name > after.strip().lower())
    rows = list(
        ctx.session.execute(statement.order_by(User.user_principal_name).limit(limit + 1)).scalars()
    )
    more = len(rows) > limit
    items = rows[:limit]
    return UserPage(items, items[-1].user_principal_name if more else None)


def set_password(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID, password: str) -> User:
    """An administrator sets (resets) a user's password; the user's sessions and tokens end."""
    require_manage_users(ctx, directory_id)
    user = user_row(ctx, directory_id, user_id)
    passwords.check_policy(password)
    user.password_hash = passwords.hash_password(password)
    revoked = revoke_all_for_user(ctx, user.id)
    audit(ctx, "user.password_set", directory_id, user, tokens_revoked=revoked)
    return user


# --- first run ------------------------------------------------------------------------------


def bootstrap(
    ctx: Ctx,
    directory_name: str,
    domain: str,
    admin_upn: str,
    admin_display_name: str,
    admin_password: str,
) -> tuple[Directory, User, str]:
    """The first directory, its first user and that user's permanent Global Administrator role.

    Returns the admin's TOTP secret: it is already enrolled (there is nobody to confirm it with
    otherwise) and shown this once. Refused once any directory exists.
    """
    if ctx.session.get_bind().dialect.name == "postgresql":
        # Two first runs at once must not both see an empty table (SQLite writers are serial).
        ctx.session.execute(text("LOCK TABLE directories IN SHARE ROW EXCLUSIVE MODE"))
    if ctx.session.execute(select(Directory.id).limit(1)).first() is not None:
        raise Conflict("OpenPIM is already set up.", code="already_bootstrapped")
    domain = normalize_domain(domain)
    upn = normalize_upn(admin_upn, field="admin_upn")
    if upn.rpartition("@")[2] != domain:
        raise ValidationFailed(
            f"The first administrator must have an organizational account on {domain}.",
            code="admin_not_on_domain",
            field="admin_upn",
        )
    passwords.check_policy(admin_password, field="admin_password")
    directory = _new_directory(ctx, directory_name, [domain])
    user = _new_user(ctx, directory.id, upn, admin_display_name, admin_password)
    secret = new_secret()
    user.totp_secret = seal_secret(ctx.settings, secret)
    user.totp_enrolled_at = ctx.now
    assignment = Assignment(
        id=uuid.uuid4(),
        directory_id=directory.id,
        principal_id=user.id,
        role_id=GLOBAL_ADMINISTRATOR,
        start_at=ctx.now,
        end_at=None,
        assignment_type=AssignmentType.ASSIGNED,
        request_id=None,
        created_via="bootstrap",
        created_at=ctx.now,
    )
    ctx.session.add(assignment)
    ctx.session.flush()
    audit(ctx, "mfa.enrolled", directory.id, user, by_admin=True, re_enrollment=False)
    record(
        ctx,
        AuditEntry(
            action="assignment.created",
            directory_id=directory.id,
            target_user_id=user.id,
            target_label=user.user_principal_name,
            role_id=GLOBAL_ADMINISTRATOR,
            role_label="Global Administrator",
            schedule_id=assignment.id,
            start_at=assignment.start_at,
            end_at=None,
            detail={"created_via": "bootstrap", "assignment_type": "Assigned"},
        ),
    )
    return directory, user, secret


def is_bootstrapped(ctx: Ctx) -> bool:
    """Whether the first run is done (any directory exists): the portal's setup page asks."""
    return ctx.session.execute(select(Directory.id).limit(1)).first() is not None


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
