"""The slow, read-only half of a password attempt: find the account, verify the password.

Signing in is split in two so the argon2 verification (tens of milliseconds) never runs inside
a write transaction, where on SQLite every other writer would wait for it:

    with runtime.read(anonymous_actor(), client_address=ip) as ctx:
        check = check_password(ctx, upn, password, directory_id)    # slow, no lock held
    with runtime.unit(anonymous_actor(), client_address=ip) as ctx:
        outcome = sign_in(ctx, check, totp_code)                     # short, row-locked
    raw_token, token = outcome.unwrap()

A `PasswordCheck` is only what was true while it ran. The write half
(`openpim.auth.password_attempt.settle_password`) trusts nothing in it that may have changed
since, and decides again under the user's row lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from openpim.auth import passwords, ratelimit
from openpim.directory.models import User, VerifiedDomain
from openpim.kit.context import Ctx

UPN_MAX_LENGTH = 320


@dataclass(frozen=True)
class PasswordCheck:
    """The result of `check_password`, to hand to `sign_in` or `confirm_password`."""

    upn: str
    directory_id: uuid.UUID | None
    user_id: uuid.UUID | None  # None: no (unambiguous) account of that name
    key: uuid.UUID  # the rate limiter's key: the user id or a pseudo id for unknown names
    checked_hash: str | None  # the stored hash the password was verified against
    matched: bool
    rehash: str | None  # the password hashed with current parameters, when the stored is old
    limited: ratelimit.Refusal | None  # refused before any secret was checked


def _find_user(ctx: Ctx, upn: str, directory_id: uuid.UUID | None) -> User | None:
    """The account signing in.

    Without a directory the name must be unambiguous; an external name that exists in several
    directories is resolved to the one whose verified domain it is, or else needs directory_id.
    """
    statement = select(User).where(User.user_principal_name == upn)
    if directory_id is not None:
        statement = statement.where(User.directory_id == directory_id)
    candidates = ctx.session.execute(statement.limit(10)).scalars().all()
    if len(candidates) > 1:
        owner = ctx.session.execute(
            select(VerifiedDomain.directory_id).where(
                VerifiedDomain.domain == upn.rpartition("@")[2]
            )
        ).scalar_one_or_none()
        candidates = [u for u in candidates if u.directory_id == owner]
    return candidates[0] if len(candidates) == 1 else None


def check_password(
    ctx: Ctx,
    user_principal_name: str,
    password: str,
    directory_id: uuid.UUID | None = None,
) -> PasswordCheck:
    """The slow half of a sign-in: find the account and verify the password (argon2).

    Writes nothing, so it runs in a read transaction (`Runtime.read`) with the caller's client
    address on the Ctx. A caller already over the rate limit is not verified at all. Unknown
    names and accounts without a password still cost one verification against a dummy hash,
    so the response time does not tell which names exist.
    """
    upn = user_principal_name.strip().lower()[:UPN_MAX_LENGTH]
    user = _find_user(ctx, upn, directory_id) if upn else None
    key = user.id if user else ratelimit.unknown_user_key(directory_id, upn)
    limited = ratelimit.check(
        ctx,
        user_key=key,
        address=ctx.client_address,
        since_success=user.last_sign_in_at if user else None,
    )
    checked_hash = user.password_hash if user else None
    matched, rehash = False, None
    if limited is None:
        if checked_hash is None:
            passwords.dummy_verify(password)
        elif passwords.verify_password(checked_hash, password):
            matched = True
            if passwords.needs_rehash(checked_hash):
                rehash = passwords.hash_password(password)
    return PasswordCheck(
        upn=upn,
        directory_id=directory_id,
        user_id=user.id if user else None,
        key=key,
        checked_hash=checked_hash,
        matched=matched,
        rehash=rehash,
        limited=limited,
    )
