"""Bearer tokens: sign-in sessions and personal API tokens.

A raw token is 32 random bytes (secrets.token_urlsafe, 256 bits); the database keeps only its
SHA-256, so a leaked table does not hand out working credentials. A plain hash (no salt, no
argon2) is enough because the input is random and long, and it keeps `authenticate` to one
indexed lookup on the hot path.

Sessions end at `expires_at` (absolute timeout) or after `session_idle_timeout` without use.
Personal API tokens (prefix "opk_") end at their optional `expires_at` only, never carry an MFA
proof, and act with their owner's rights.

`last_used_at` moves forward at most once per TOUCH_INTERVAL, so most requests only read.
`authenticate` checks and touches in one go, for callers inside a write unit. Read-only callers
use `check_token` in a read transaction and, when it says a touch is due, call `touch` in a
short write unit afterwards (a touch inside a read transaction would be rolled back).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select, update

from openpim.audit.writer import AuditEntry, record
from openpim.auth.models import AuthToken
from openpim.auth.permissions import can_manage_users
from openpim.config import Settings
from openpim.db import direct
from openpim.directory.models import User
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Actor, ActorKind, Ctx
from openpim.kit.errors import Forbidden, MfaRequired, NotFound, Unauthorized, ValidationFailed

SESSION = "session"
API = "api"
API_TOKEN_PREFIX = "opk_"  # noqa: S105 (a marker for secret scanners, not a secret)
TOUCH_INTERVAL = timedelta(seconds=60)
TOKEN_NAME_MAX_LENGTH = 200

_tokens = cast(Table, AuthToken.__table__)
_users = cast(Table, User.__table__)


def token_by_hash(token_hash: Any) -> Select[Any]:
    """The token row and its user's facts for `token_hash` (a bind, or a column of a batch)."""
    return (
        select(
            _tokens.c.id,
            _tokens.c.kind,
            _tokens.c.expires_at,
            _tokens.c.revoked_at,
            _tokens.c.last_used_at,
            _tokens.c.mfa_verified_at,
            _tokens.c.user_id,
            _users.c.directory_id,
            _users.c.user_principal_name,
            _users.c.enabled,
        )
        .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id))
        .where(_tokens.c.token_hash == token_hash)
    )


_BY_HASH = token_by_hash(bindparam("token_hash"))

_TOUCH = (
    update(_tokens)
    .where(_tokens.c.id == bindparam("token_id"), _tokens.c.last_used_at <= bindparam("stale"))
    .values(last_used_at=bindparam("now"))
)


def hash_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def _new_raw(kind: str) -> str:
    raw = secrets.token_urlsafe(32)
    return API_TOKEN_PREFIX + raw if kind == API else raw


def _invalid() -> Unauthorized:
    return Unauthorized("The token is invalid or has expired.", code="invalid_token")


def ended_reason(ctx: Ctx, token: AuthToken) -> str | None:
    """Why `token` no longer works at ctx.now ("revoked", "expired", "idle"), or None."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= ctx.now:
        return "expired"
    if token.kind == SESSION and token.last_used_at + ctx.settings.session_idle_timeout <= ctx.now:
        return "idle"
    return None


def issue_session(
    ctx: Ctx, user: User, *, mfa_verified_at: datetime | None
) -> tuple[str, AuthToken]:
    """A new sign-in session for `user`. The caller has checked the credentials and audits."""
    raw = _new_raw(SESSION)
    token = AuthToken(
        id=uuid.uuid4(),
        user_id=user.id,
        kind=SESSION,
        name=None,
        token_hash=hash_token(raw),
        created_at=ctx.now,
        last_used_at=ctx.now,
        expires_at=ctx.now + ctx.settings.session_absolute_timeout,
        revoked_at=None,
        mfa_verified_at=mfa_verified_at,
        client_address=ctx.client_address[:64] if ctx.client_address else None,
    )
    ctx.session.add(token)
    ctx.session.flush()
    return raw, token


def check_token(ctx: Ctx, raw_token: str) -> tuple[Actor, bool]:
    """The Actor a bearer token stands for, and whether its last-use time is due a write.

    Writes nothing, so read-only requests can run in a read transaction and open a write unit
    for `touch` only when the second value is True (at most once per TOUCH_INTERVAL per token).
    Refuses unknown, revoked, expired and idle tokens and disabled users alike with
    Unauthorized "invalid_token".
    """
    row = direct.first(ctx.session.connection(), TOKEN_BY_HASH, token_lookup(raw_token))
    return judge_token(row, ctx.now, ctx.settings)


# The lookup and the rules apart, so the access-check hot path can run the same lookup on the
# raw driver connection (openpim.db.direct) and then apply the very same rules.
TOKEN_BY_HASH = _BY_HASH


def token_lookup(raw_token: str) -> dict[str, str]:
    """The parameters of TOKEN_BY_HASH for a raw token; invalid_token for absurd input."""
    if not raw_token or len(raw_token) > 200:
        raise _invalid()
    return {"token_hash": hash_token(raw_token)}


def judge_token(row: Any, now: datetime, settings: Settings) -> tuple[Actor, bool]:
    """check_token's verdict on a TOKEN_BY_HASH row (None when no token matched)."""
    if row is None or row.revoked_at is not None or not row.enabled:
        raise _invalid()
    if row.expires_at is not None and row.expires_at <= now:
        raise _invalid()
    if row.kind == SESSION and row.last_used_at + settings.session_idle_timeout <= now:
        raise _invalid()
    actor = Actor(
        kind=ActorKind.USER,
        label=row.user_principal_name,
        user_id=row.user_id,
        directory_id=row.directory_id,
        token_id=row.id,
        token_kind=row.kind,
        mfa_verified_at=row.mfa_verified_at if row.kind == SESSION else None,
    )
    return actor, row.last_used_at <= now - TOUCH_INTERVAL


def touch(ctx: Ctx, actor: Actor) -> None:
    """Move the actor's token's last-use time to now, unless it moved within TOUCH_INTERVAL.

    Conditional, so concurrent requests write once and never move the time backwards.
    """
    if actor.token_id is None:
        return
    ctx.session.execute(
        _TOUCH, {"token_id": actor.token_id, "stale": ctx.now - TOUCH_INTERVAL, "now": ctx.now}
    )


def authenticate(ctx: Ctx, raw_token: str) -> Actor:
    """`check_token` plus the touch when due, for callers already in a write unit."""
    actor, touch_due = check_token(ctx, raw_token)
    if touch_due:
        touch(ctx, actor)
    return actor


def _acting_user(ctx: Ctx) -> User:
    if ctx.actor.kind != ActorKind.USER or ctx.actor.user_id is None:
        raise Unauthorized("Sign in first.", code="not_signed_in")
    user = ctx.session.get(User, ctx.actor.user_id)
    if user is None or not user.enabled:
        raise _invalid()
    return user


def create_api_token(
    ctx: Ctx, name: str, expires_at: datetime | None = None
) -> tuple[str, AuthToken]:
    """A personal API token for the signed-in user. The raw token is returned here only."""
    user = _acting_user(ctx)
    if ctx.actor.token_kind == API:
        raise Forbidden(
            "An API token cannot create further API tokens; sign in to create one.",
            code="api_token_cannot_create_tokens",
        )
    if user.mfa_enrolled and not _mfa_fresh(ctx):
        # A stolen password-only session must not be turned into a long-lived credential.
        raise MfaRequired(
            "Confirm a code from your authenticator app before creating an API token.",
            code="mfa_required",
        )
    clean_name = name.strip()
    if not clean_name or len(clean_name) > TOKEN_NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"The token name must be 1 to {TOKEN_NAME_MAX_LENGTH} characters.",
            code="invalid_token_name",
            field="name",
        )
    if expires_at is not None:
        try:
            expires_at = ensure_utc(expires_at)
        except ValueError:
            raise ValidationFailed(
                "expires_at must carry a time zone.", code="naive_datetime", field="expires_at"
            ) from None
        if expires_at <= ctx.now:
            raise ValidationFailed(
                "expires_at must be in the future.", code="expiry_in_past", field="expires_at"
            )
    raw = _new_raw(API)
    token = AuthToken(
        id=uuid.uuid4(),
        user_id=user.id,
        kind=API,
        name=clean_name,
        token_hash=hash_token(raw),
        created_at=ctx.now,
        last_used_at=ctx.now,
        expires_at=expires_at,
        revoked_at=None,
        mfa_verified_at=None,
        client_address=ctx.client_address[:64] if ctx.client_address else None,
    )
    ctx.session.add(token)
    record(
        ctx,
        AuditEntry(
            action="auth.api_token_created",
            directory_id=user.directory_id,
            target_user_id=user.id,
            target_label=user.user_principal_name,
            end_at=expires_at,
            detail={"token_id": str(token.id), "name": clean_name},
        ),
    )
    return raw, token


def _mfa_fresh(ctx: Ctx) -> bool:
    proved = ctx.actor.mfa_verified_at
    return proved is not None and ctx.now - proved <= ctx.settings.mfa_freshness


def _require_owner_or_user_admin(ctx: Ctx, owner: User) -> None:
    if ctx.actor.user_id == owner.id and ctx.actor.directory_id == owner.directory_id:
        return
    if not can_manage_users(ctx, owner.directory_id):
        raise Forbidden(
            "Only the token's owner or a user administrator can see or revoke its tokens.",
            code="not_token_owner",
        )


def list_tokens(
    ctx: Ctx, user_id: uuid.UUID, *, kind: str | None = None, include_ended: bool = False
) -> list[AuthToken]:
    """The user's tokens, newest first; by default only the ones that still work."""
    owner = ctx.session.get(User, user_id)
    if owner is None:
        raise NotFound("No such user.", code="user_not_found")
    _require_owner_or_user_admin(ctx, owner)
    statement = select(AuthToken).where(AuthToken.user_id == user_id)
    if kind is not None:
        statement = statement.where(AuthToken.kind == kind)
    rows = ctx.session.execute(statement.order_by(AuthToken.created_at.desc())).scalars().all()
    return [t for t in rows if include_ended or ended_reason(ctx, t) is None]


def revoke_token(ctx: Ctx, token_id: uuid.UUID) -> AuthToken:
    """Revoke one token (owner or user administrator). Revoking a revoked token changes nothing."""
    token = ctx.session.get(AuthToken, token_id)
    owner = ctx.session.get(User, token.user_id) if token is not None else None
    if token is None or owner is None:
        raise NotFound("No such token.", code="token_not_found")
    _require_owner_or_user_admin(ctx, owner)
    if token.revoked_at is not None:
        return token
    token.revoked_at = ctx.now
    record(
        ctx,
        AuditEntry(
            action="auth.signed_out" if token.id == ctx.actor.token_id else "auth.token_revoked",
            directory_id=owner.directory_id,
            target_user_id=owner.id,
            target_label=owner.user_principal_name,
            detail={"token_id": str(token.id), "kind": token.kind, "name": token.name},
        ),
    )
    return token


def sign_out(ctx: Ctx) -> None:
    """End the caller's own session (or revoke the API token the caller is using)."""
    if ctx.actor.token_id is None:
        raise Unauthorized("There is no session to end.", code="not_signed_in")
    revoke_token(ctx, ctx.actor.token_id)


def revoke_all_for_user(ctx: Ctx, user_id: uuid.UUID) -> int:
    """Revoke every live token of a user (disable, password reset); returns how many. No audit:
    the caller records the change that caused it, with this count."""
    result = ctx.session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=ctx.now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def rotate_session(ctx: Ctx) -> tuple[str, AuthToken]:
    """Replace the caller's sign-in session with a new token (the portal does it after a
    step-up, so a session id seen before the privilege change is worth nothing after it).

    The new session keeps the old one's MFA proof and absolute end, so rotation never extends
    a session; the old token is revoked in the same transaction.
    """
    if ctx.actor.token_id is None or ctx.actor.token_kind != SESSION:
        raise Unauthorized("There is no session to rotate.", code="not_signed_in")
    old = ctx.session.get(AuthToken, ctx.actor.token_id)
    if old is None or ended_reason(ctx, old) is not None:
        raise _invalid()
    user = ctx.session.get(User, old.user_id)
    if user is None or not user.enabled:
        raise _invalid()
    raw, token = issue_session(ctx, user, mfa_verified_at=old.mfa_verified_at)
    token.expires_at = old.expires_at
    old.revoked_at = ctx.now
    record(
        ctx,
        AuditEntry(
            action="auth.session_rotated",
            directory_id=user.directory_id,
            target_user_id=user.id,
            target_label=user.user_principal_name,
            detail={"token_id": str(token.id), "replaced_token_id": str(old.id)},
        ),
    )
    return raw, token
