"""Users: creating them, reading and listing them, and setting their password.

Reading another user needs a user administrator or PIM reader role (`_require_user_reader`);
anyone may read themself. A new user's account kind comes from their UPN's domain
(account_kind.py). Disabling and enabling are in status.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from openpim.auth import passwords
from openpim.auth.permissions import can_manage_users, can_read_all, require_manage_users
from openpim.auth.tokens import revoke_all_for_user
from openpim.directory.account_kind import account_kind_for
from openpim.directory.common import (
    audit,
    directory_row,
    insert_or_conflict,
    is_self,
    normalize_display_name,
    normalize_upn,
    user_row,
)
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, Forbidden
from openpim.kit.pagination import require_page

MAX_PAGE = 500


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    # Pass as `after` to get the next page; None on the last page.
    next_after: str | None


# --- creating users and setting passwords ---------------------------------------------------


def new_user(
    ctx: Ctx, directory_id: uuid.UUID, upn: str, display_name: str, password: str | None
) -> User:
    """A user, with no permission check: create_user and bootstrap each decide who may."""
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
        account_kind=account_kind_for(ctx, directory_id, upn),
        enabled=True,
        password_hash=passwords.hash_password(password) if password is not None else None,
        created_at=ctx.now,
    )
    insert_or_conflict(ctx, user, exists)
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
    return new_user(ctx, directory_id, user_principal_name, display_name, password)


def set_password(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID, password: str) -> User:
    """An administrator sets (resets) a user's password; the user's sessions and tokens end."""
    require_manage_users(ctx, directory_id)
    user = user_row(ctx, directory_id, user_id)
    passwords.check_policy(password)
    user.password_hash = passwords.hash_password(password)
    revoked = revoke_all_for_user(ctx, user.id)
    audit(ctx, "user.password_set", directory_id, user, tokens_revoked=revoked)
    return user


# --- reading users --------------------------------------------------------------------------


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
