"""Account kind: a user is *organizational* when the domain of their user principal name (UPN)
is a verified domain of their directory, else *external*.

The kind is stored on the user rather than derived per read because queries filter and report
on it (Graph's userType, the alerts, "who may change PIM"). So it is set when a user is created
and kept in step when a domain is verified; a domain cannot be removed while users' names are
on it, so a stored kind never goes stale the other way.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, select

from openpim.directory.models import AccountKind, User, VerifiedDomain
from openpim.kit.context import Ctx


def upn_domain(upn: str) -> str:
    """The domain part of a normalized UPN (after the last @: the local part may hold one)."""
    return upn.rpartition("@")[2]


def users_on_domain(directory_id: uuid.UUID, domain: str) -> ColumnElement[bool]:
    """The directory's users whose UPN is on `domain` (its LIKE wildcards are escaped)."""
    return and_(
        User.directory_id == directory_id,
        User.user_principal_name.endswith(f"@{domain}", autoescape=True),
    )


def account_kind_for(ctx: Ctx, directory_id: uuid.UUID, upn: str) -> AccountKind:
    """The kind a new user with this UPN gets in this directory."""
    verified = ctx.session.execute(
        select(VerifiedDomain.id).where(
            VerifiedDomain.directory_id == directory_id,
            VerifiedDomain.domain == upn_domain(upn),
        )
    ).first()
    return AccountKind.ORGANIZATIONAL if verified else AccountKind.EXTERNAL


def make_users_organizational(ctx: Ctx, directory_id: uuid.UUID, domain: str) -> int:
    """Keep the stored kind in step once `domain` is verified; returns how many users changed."""
    users = ctx.session.execute(select(User).where(users_on_domain(directory_id, domain))).scalars()
    converted = 0
    for user in users:
        if user.account_kind != AccountKind.ORGANIZATIONAL:
            user.account_kind = AccountKind.ORGANIZATIONAL
            converted += 1
    return converted
