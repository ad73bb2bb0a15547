"""Authentication: sign-in, step-up MFA, and (re-exported) tokens and TOTP enrolment.

Failed attempts must stay on record even though the caller is refused: the rate limiter counts
them and the audit shows them. A unit of work rolls back when an exception leaves it, so the
functions that check a secret the caller may not know (`sign_in`, `step_up`) do not raise for a
refused attempt. They write the AuthFailure row and audit event in the caller's transaction and
return an `Outcome` holding the error; the adapter lets the unit commit, then unwraps:

    with runtime.unit(anonymous_actor(), client_address=ip) as ctx:
        outcome = sign_in(ctx, upn, password, code, directory_id)
    raw_token, token = outcome.unwrap()   # raises Unauthorized / RateLimited / MfaRequired

The success value is only reachable through `unwrap()`, so an adapter cannot mistake a refusal
for a sign-in. Bad input and missing rights still raise at once: nothing is kept for those.
A second unit of work for the failure would not do: on SQLite it would wait for the lock held
by the first one.
"""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from sqlalchemy import select

from openpim.audit.writer import AuditEntry, record
from openpim.auth import mfa, passwords, ratelimit
from openpim.auth.mfa import (
    TotpEnrollment,
    begin_totp_enrollment,
    confirm_totp_enrollment,
    reset_totp,
)
from openpim.auth.models import AuthToken
from openpim.auth.ratelimit import FailureKind
from openpim.auth.tokens import (
    API,
    SESSION,
    authenticate,
    create_api_token,
    ended_reason,
    issue_session,
    list_tokens,
    revoke_token,
    sign_out,
)
from openpim.directory.models import User, VerifiedDomain
from openpim.kit.context import Actor, ActorKind, Ctx
from openpim.kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    MfaRequired,
    Unauthorized,
)

__all__ = [
    "Outcome",
    "TotpEnrollment",
    "anonymous_actor",
    "authenticate",
    "begin_totp_enrollment",
    "confirm_totp_enrollment",
    "create_api_token",
    "list_tokens",
    "reset_totp",
    "revoke_token",
    "sign_in",
    "sign_out",
    "step_up",
]

T = TypeVar("T")

UPN_MAX_LENGTH = 320
_BAD_CREDENTIALS = "The user name, password or code is incorrect."


class Outcome(Generic[T]):
    """A result that may be a refusal whose records must be committed before it is raised."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: T | None, error: DomainError | None) -> None:
        self._value = value
        self._error = error

    @classmethod
    def success(cls, value: T) -> Outcome[T]:
        return cls(value, None)

    @classmethod
    def refused(cls, error: DomainError) -> Outcome[T]:
        return cls(None, error)

    @property
    def ok(self) -> bool:
        return self._error is None

    @property
    def error(self) -> DomainError | None:
        return self._error

    def unwrap(self) -> T:
        """The value, or raise the refusal (after the unit of work has committed)."""
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def anonymous_actor() -> Actor:
    """The actor for unauthenticated calls (sign-in): a user kind with no user, so it holds no
    role and every permission check refuses it."""
    return Actor(kind=ActorKind.USER, label="anonymous")


# --- sign-in --------------------------------------------------------------------------------


def _find_user(ctx: Ctx, upn: str, directory_id: uuid.UUID | None) -> User | None:
    """The account signing in, row-locked so concurrent attempts (and TOTP replays) queue.

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
    if len(candidates) != 1:
        return None
    return ctx.session.execute(
        select(User).where(User.id == candidates[0].id).with_for_update()
    ).scalar_one()


def _audit_attempt(
    ctx: Ctx,
    action: str,
    upn: str,
    user: User | None,
    directory_id: uuid.UUID | None,
    *,
    result: str,
    detail: dict[str, Any],
    as_user: bool = False,
) -> None:
    record(
        ctx,
        AuditEntry(
            action=action,
            result=result,
            directory_id=user.directory_id if user else directory_id,
            target_user_id=user.id if user else None,
            target_label=upn,
            detail=detail,
            # Only a successful sign-in speaks for the user; a failure is someone trying.
            actor_id=user.id if (as_user and user) else None,
            actor_label=upn if as_user else None,
        ),
    )


def _sign_in_failed(
    ctx: Ctx,
    upn: str,
    user: User | None,
    directory_id: uuid.UUID | None,
    key: uuid.UUID,
    *,
    kind: str,
    reason: str,
    error: DomainError | None = None,
) -> Outcome[tuple[str, AuthToken]]:
    ratelimit.record_failure(ctx, user_key=key, address=ctx.client_address, kind=kind)
    _audit_attempt(
        ctx,
        "auth.sign_in_failed",
        upn,
        user,
        directory_id,
        result="failure",
        detail={"reason": reason, "factor": kind},
    )
    return Outcome.refused(error or Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials"))


def sign_in(
    ctx: Ctx,
    user_principal_name: str,
    password: str,
    totp_code: str | None,
    directory_id: uuid.UUID | None = None,
) -> Outcome[tuple[str, AuthToken]]:
    """Check password then TOTP (when enrolled) and open a session: (raw token, AuthToken).

    Order matters: the rate limit is checked before any secret, and every credential failure
    gives the same "invalid_credentials" answer whether or not the account exists (unknown
    names still cost one argon2 verification). Only a correct password without the TOTP code
    of an enrolled user answers "mfa_required", so the client can ask for the code.
    """
    upn = user_principal_name.strip().lower()[:UPN_MAX_LENGTH]
    user = _find_user(ctx, upn, directory_id) if upn else None
    key = user.id if user else ratelimit.unknown_user_key(directory_id, upn)
    refusal = ratelimit.check(
        ctx,
        user_key=key,
        address=ctx.client_address,
        since_success=user.last_sign_in_at if user else None,
    )
    if refusal is not None:
        _audit_attempt(
            ctx,
            "auth.sign_in_rate_limited",
            upn,
            user,
            directory_id,
            result="failure",
            detail={"limit": refusal.scope, "retry_after_seconds": refusal.retry_after_seconds},
        )
        return Outcome.refused(refusal.error())

    if user is None or user.password_hash is None:
        passwords.dummy_verify(password)
        reason = "unknown_user" if user is None else "no_password"
        return _sign_in_failed(
            ctx, upn, user, directory_id, key, kind=FailureKind.PASSWORD, reason=reason
        )
    if not passwords.verify_password(user.password_hash, password):
        return _sign_in_failed(
            ctx, upn, user, directory_id, key, kind=FailureKind.PASSWORD, reason="bad_password"
        )

    mfa_verified_at = None
    if user.mfa_enrolled:
        if not totp_code or not totp_code.strip():
            return Outcome.refused(
                MfaRequired("Enter the code from your authenticator app.", code="mfa_required")
            )
        if not mfa.consume_code(user, totp_code, ctx.now):
            return _sign_in_failed(
                ctx, upn, user, directory_id, key, kind=FailureKind.TOTP, reason="bad_totp"
            )
        mfa_verified_at = ctx.now

    if not user.enabled:
        # Said only after every factor checked out, so it tells nothing to a guesser.
        return _sign_in_failed(
            ctx,
            upn,
            user,
            directory_id,
            key,
            kind=FailureKind.PASSWORD,
            reason="disabled",
            error=Unauthorized("This account is disabled.", code="account_disabled"),
        )

    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_sign_in_at = ctx.now
    raw, token = issue_session(ctx, user, mfa_verified_at=mfa_verified_at)
    _audit_attempt(
        ctx,
        "auth.signed_in",
        upn,
        user,
        directory_id,
        result="success",
        as_user=True,
        detail={"token_id": str(token.id), "mfa": mfa_verified_at is not None},
    )
    return Outcome.success((raw, token))


# --- step-up --------------------------------------------------------------------------------


def step_up(ctx: Ctx, token_id: uuid.UUID, totp_code: str) -> Outcome[AuthToken]:
    """Prove MFA inside the caller's own sign-in session: sets the session's mfa_verified_at.

    Rate limited like sign-in (the same failure counters); API tokens can never step up, so
    they never satisfy an MFA requirement.
    """
    if ctx.actor.token_kind == API:
        raise Forbidden("API tokens cannot prove MFA; sign in instead.", code="step_up_not_allowed")
    token = ctx.session.get(AuthToken, token_id)
    if (
        token is None
        or ctx.actor.user_id is None
        or token.id != ctx.actor.token_id
        or token.user_id != ctx.actor.user_id
    ):
        raise Unauthorized("The token is invalid or has expired.", code="invalid_token")
    if token.kind != SESSION:
        raise Forbidden("API tokens cannot prove MFA; sign in instead.", code="step_up_not_allowed")
    user = ctx.session.execute(
        select(User).where(User.id == token.user_id).with_for_update()
    ).scalar_one()
    if ended_reason(ctx, token) is not None or not user.enabled:
        raise Unauthorized("The token is invalid or has expired.", code="invalid_token")
    if not user.mfa_enrolled:
        raise Conflict("Enrol an authenticator app before proving MFA.", code="mfa_not_enrolled")

    def audit(action: str, result: str, **detail: Any) -> None:
        record(
            ctx,
            AuditEntry(
                action=action,
                result=result,
                directory_id=user.directory_id,
                target_user_id=user.id,
                target_label=user.user_principal_name,
                detail={"token_id": str(token.id), **detail},
            ),
        )

    refusal = ratelimit.check(
        ctx, user_key=user.id, address=ctx.client_address, since_success=user.last_sign_in_at
    )
    if refusal is not None:
        audit(
            "auth.step_up_rate_limited",
            "failure",
            limit=refusal.scope,
            retry_after_seconds=refusal.retry_after_seconds,
        )
        return Outcome.refused(refusal.error())
    if not mfa.consume_code(user, totp_code, ctx.now):
        ratelimit.record_failure(
            ctx, user_key=user.id, address=ctx.client_address, kind=FailureKind.TOTP
        )
        audit("auth.step_up_failed", "failure", reason="bad_totp")
        return Outcome.refused(
            Unauthorized("The code is incorrect or was already used.", code="invalid_totp_code")
        )
    token.mfa_verified_at = ctx.now
    audit("auth.step_up", "success")
    return Outcome.success(token)
