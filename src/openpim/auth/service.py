"""Authentication: sign-in, step-up MFA, and (re-exported) tokens and TOTP enrolment.

Failed attempts must stay on record even though the caller is refused: the rate limiter counts
them and the audit shows them. A unit of work rolls back when an exception leaves it, so the
functions that check a secret the caller may not know (`sign_in`, `step_up`) do not raise for a
refused attempt. They write the AuthFailure row and audit event in the caller's transaction and
return an `Outcome` holding the error; the adapter lets the unit commit, then unwraps:

    with runtime.read(anonymous_actor(), client_address=ip) as ctx:
        check = check_password(ctx, upn, password, directory_id)   # argon2, no write lock
    with runtime.unit(anonymous_actor(), client_address=ip) as ctx:
        outcome = sign_in(ctx, check, code)
    raw_token, token = outcome.unwrap()   # raises Unauthorized / RateLimited / MfaRequired

The success value is only reachable through `unwrap()`, so an adapter cannot mistake a refusal
for a sign-in. Bad input and missing rights still raise at once: nothing is kept for those.
A second unit of work for the failure would not do: on SQLite it would wait for the lock held
by the first one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
    "PasswordCheck",
    "TotpEnrollment",
    "anonymous_actor",
    "authenticate",
    "begin_totp_enrollment",
    "check_password",
    "confirm_password",
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
#
# Signing in is split in two so the argon2 verification (tens of milliseconds) never runs inside
# a write transaction, where on SQLite every other writer would wait for it:
#
#     with runtime.read(anonymous_actor(), client_address=ip) as ctx:
#         check = check_password(ctx, upn, password, directory_id)    # slow, no lock held
#     with runtime.unit(anonymous_actor(), client_address=ip) as ctx:
#         outcome = sign_in(ctx, check, totp_code)                     # short, row-locked
#     raw_token, token = outcome.unwrap()
#
# The write half trusts nothing the read half saw that may have changed since: it locks the
# user row, checks the rate limit again (attempts racing each other count one by one), uses
# the password result only if the stored hash is still the one that was verified (a password
# changed meanwhile refuses the attempt), and reads the enabled flag and TOTP state afresh.


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


def _audit_attempt(
    ctx: Ctx,
    action: str,
    check: PasswordCheck,
    user: User | None,
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
            directory_id=user.directory_id if user else check.directory_id,
            target_user_id=user.id if user else None,
            target_label=check.upn,
            detail=detail,
            # Only a successful sign-in speaks for the user; a failure is someone trying.
            actor_id=user.id if (as_user and user) else None,
            actor_label=check.upn if as_user else None,
        ),
    )


@dataclass(frozen=True)
class _Attempt:
    """What the write half of an attempt works on: the check, the locked row, audit names."""

    check: PasswordCheck
    user: User | None
    failed_action: str
    limited_action: str
    via: dict[str, Any]

    def failed(
        self, ctx: Ctx, *, kind: str, reason: str, error: DomainError | None = None
    ) -> DomainError:
        ratelimit.record_failure(
            ctx, user_key=self.check.key, address=ctx.client_address, kind=kind
        )
        _audit_attempt(
            ctx,
            self.failed_action,
            self.check,
            self.user,
            result="failure",
            detail={"reason": reason, "factor": kind, **self.via},
        )
        return error or Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")


def _settle_password(
    ctx: Ctx, check: PasswordCheck, *, failed_action: str, limited_action: str, via: dict[str, Any]
) -> tuple[_Attempt, DomainError | None]:
    """Lock the account and decide the password factor again on what is true now."""
    user = None
    if check.user_id is not None:
        user = ctx.session.execute(
            select(User).where(User.id == check.user_id).with_for_update()
        ).scalar_one_or_none()
    attempt = _Attempt(check, user, failed_action, limited_action, via)
    refusal = check.limited or ratelimit.check(
        ctx,
        user_key=check.key,
        address=ctx.client_address,
        since_success=user.last_sign_in_at if user else None,
    )
    if refusal is not None:
        _audit_attempt(
            ctx,
            limited_action,
            check,
            user,
            result="failure",
            detail={
                "limit": refusal.scope,
                "retry_after_seconds": refusal.retry_after_seconds,
                **via,
            },
        )
        return attempt, refusal.error()
    if user is None or check.checked_hash is None:
        reason = "unknown_user" if user is None else "no_password"
        return attempt, attempt.failed(ctx, kind=FailureKind.PASSWORD, reason=reason)
    if not check.matched:
        return attempt, attempt.failed(ctx, kind=FailureKind.PASSWORD, reason="bad_password")
    if user.password_hash != check.checked_hash:
        # The password changed (or was reset) while it was being verified: the old one no
        # longer proves anything. Not a guess, so it does not count towards the limit.
        _audit_attempt(
            ctx,
            failed_action,
            check,
            user,
            result="failure",
            detail={"reason": "password_changed", "factor": FailureKind.PASSWORD, **via},
        )
        return attempt, Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    return attempt, None


def sign_in(
    ctx: Ctx, check: PasswordCheck, totp_code: str | None
) -> Outcome[tuple[str, AuthToken]]:
    """Finish a sign-in whose password `check_password` verified: TOTP (when enrolled), the
    enabled flag, then a new session: (raw token, AuthToken). Runs in a write unit.

    Every credential failure gives the same "invalid_credentials" answer whether or not the
    account exists. Only a correct password without the TOTP code of an enrolled user answers
    "mfa_required", so the client can ask for the code.
    """
    attempt, error = _settle_password(
        ctx,
        check,
        failed_action="auth.sign_in_failed",
        limited_action="auth.sign_in_rate_limited",
        via={},
    )
    if error is not None:
        return Outcome.refused(error)
    user = attempt.user
    assert user is not None

    mfa_verified_at = None
    if user.mfa_enrolled:
        if not totp_code or not totp_code.strip():
            return Outcome.refused(
                MfaRequired("Enter the code from your authenticator app.", code="mfa_required")
            )
        try:
            accepted = mfa.consume_code(ctx, user, totp_code)
        except mfa.TotpSecretUnreadable as unreadable:
            # Fails closed: no code can be checked. Not the caller's fault, so not counted.
            _audit_attempt(
                ctx,
                "auth.sign_in_failed",
                check,
                user,
                result="failure",
                detail={"reason": "totp_secret_unreadable", "factor": FailureKind.TOTP},
            )
            return Outcome.refused(unreadable)
        if not accepted:
            return Outcome.refused(attempt.failed(ctx, kind=FailureKind.TOTP, reason="bad_totp"))
        mfa_verified_at = ctx.now

    if not user.enabled:
        # Said only after every factor checked out, so it tells nothing to a guesser.
        return Outcome.refused(_disabled(ctx, attempt))

    if check.rehash is not None:
        user.password_hash = check.rehash
    user.last_sign_in_at = ctx.now
    raw, token = issue_session(ctx, user, mfa_verified_at=mfa_verified_at)
    _audit_attempt(
        ctx,
        "auth.signed_in",
        check,
        user,
        result="success",
        as_user=True,
        detail={"token_id": str(token.id), "mfa": mfa_verified_at is not None},
    )
    return Outcome.success((raw, token))


def _disabled(ctx: Ctx, attempt: _Attempt) -> DomainError:
    return attempt.failed(
        ctx,
        kind=FailureKind.PASSWORD,
        reason="disabled",
        error=Unauthorized("This account is disabled.", code="account_disabled"),
    )


def confirm_password(ctx: Ctx, check: PasswordCheck, *, via: str) -> Outcome[User]:
    """Finish a password-only authentication that opens no session (the CLI's `--as`).

    The same rate limit, failure records and audit as `sign_in` (actions
    "auth.password_failed" / "auth.password_rate_limited", detail `via`); a second factor, when
    the command needs one, is proved by the operation itself. Runs in a write unit.
    """
    attempt, error = _settle_password(
        ctx,
        check,
        failed_action="auth.password_failed",
        limited_action="auth.password_rate_limited",
        via={"via": via},
    )
    if error is not None:
        return Outcome.refused(error)
    assert attempt.user is not None
    if not attempt.user.enabled:
        return Outcome.refused(_disabled(ctx, attempt))
    if check.rehash is not None:
        attempt.user.password_hash = check.rehash
    return Outcome.success(attempt.user)


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
    if not mfa.consume_code(ctx, user, totp_code):
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
