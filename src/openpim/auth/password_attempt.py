"""The write half of a password attempt, shared by `sign_in` and `confirm_password`.

`settle_password` runs in the write unit, under the user's row lock, on the `PasswordCheck`
made earlier in a read transaction (see `openpim.auth.password_check`). It trusts nothing that
may have changed since: it checks the rate limit again (attempts racing each other count one
by one), and uses the password result only if the stored hash is still the one that was
verified. The caller then checks its further factors on the same `Attempt`.

Every refused credential is audited. The "mfa_required" prompt for a missing TOTP code refuses
no credential: `sign_in` audits it as "interrupted" (auth.sign_in_mfa_pending: a right password
whose code never comes is how a stolen password shows) and counts nothing. Of the audited
refusals, these count towards the rate limit (an AuthFailure row, written by `Attempt.failed`):
an unknown name, an account without a password, a wrong password, a wrong TOTP code, a
disabled account. These do not, because they are not a guess: a refusal by the limit itself
(see `openpim.auth.ratelimit`), a password changed while it was being verified, an unreadable
TOTP secret (in `sign_in`).
Every credential failure answers the same "invalid_credentials", whether or not the account
exists; "account_disabled" is said only after every factor checked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from openpim.audit.writer import AuditEntry, record
from openpim.auth import ratelimit
from openpim.auth.password_check import PasswordCheck
from openpim.auth.ratelimit import FailureKind
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import DomainError, Unauthorized

BAD_CREDENTIALS = "The user name, password or code is incorrect."


def audit_attempt(
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
class Attempt:
    """What the write half of an attempt works on: the check, the locked row, audit names."""

    check: PasswordCheck
    user: User | None
    failed_action: str
    limited_action: str
    via: dict[str, Any]

    def failed(
        self, ctx: Ctx, *, kind: str, reason: str, error: DomainError | None = None
    ) -> DomainError:
        """Count the failure towards the rate limit, audit it, and return the refusal."""
        ratelimit.record_failure(
            ctx, user_key=self.check.key, address=ctx.client_address, kind=kind
        )
        audit_attempt(
            ctx,
            self.failed_action,
            self.check,
            self.user,
            result="failure",
            detail={"reason": reason, "factor": kind, **self.via},
        )
        return error or Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")

    def refuse_disabled_account(self, ctx: Ctx) -> DomainError:
        return self.failed(
            ctx,
            kind=FailureKind.PASSWORD,
            reason="disabled",
            error=Unauthorized("This account is disabled.", code="account_disabled"),
        )


def settle_password(
    ctx: Ctx, check: PasswordCheck, *, failed_action: str, limited_action: str, via: dict[str, Any]
) -> tuple[Attempt, DomainError | None]:
    """Lock the account and decide the password factor again on what is true now."""
    user = None
    if check.user_id is not None:
        user = ctx.session.execute(
            select(User).where(User.id == check.user_id).with_for_update()
        ).scalar_one_or_none()
    attempt = Attempt(check, user, failed_action, limited_action, via)
    refusal = check.limited or ratelimit.check(
        ctx,
        user_key=check.key,
        address=ctx.client_address,
        since_success=user.last_sign_in_at if user else None,
    )
    if refusal is not None:
        audit_attempt(
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
        audit_attempt(
            ctx,
            failed_action,
            check,
            user,
            result="failure",
            detail={"reason": "password_changed", "factor": FailureKind.PASSWORD, **via},
        )
        return attempt, Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")
    return attempt, None
