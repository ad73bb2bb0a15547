"""Finishing a password attempt in a write unit: `sign_in` opens a session, `confirm_password`
(the CLI's `--as`) opens none.

Both take the `PasswordCheck` that `check_password` made in a read transaction, settle the
password again under the user's row lock (`openpim.auth.password_attempt`, where what is
counted and audited is listed), and return an `Outcome` so a refusal is committed before it is
raised (`openpim.auth.outcome`).
"""

from __future__ import annotations

from openpim.auth import mfa
from openpim.auth.models import AuthToken
from openpim.auth.outcome import Outcome
from openpim.auth.password_attempt import audit_attempt, settle_password
from openpim.auth.password_check import PasswordCheck
from openpim.auth.ratelimit import FailureKind
from openpim.auth.tokens import issue_session
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import MfaRequired


def sign_in(
    ctx: Ctx, check: PasswordCheck, totp_code: str | None
) -> Outcome[tuple[str, AuthToken]]:
    """Finish a sign-in whose password `check_password` verified: TOTP (when enrolled), the
    enabled flag, then a new session: (raw token, AuthToken). Runs in a write unit.

    Every credential failure gives the same "invalid_credentials" answer whether or not the
    account exists. Only a correct password without the TOTP code of an enrolled user answers
    "mfa_required", so the client can ask for the code (audited as auth.sign_in_mfa_pending).
    """
    attempt, error = settle_password(
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

    def audit_uncounted(action: str, result: str, reason: str) -> None:
        """A TOTP-stage refusal that is no wrong guess: audited, not counted."""
        detail = {"reason": reason, "factor": FailureKind.TOTP}
        audit_attempt(ctx, action, check, user, result=result, detail=detail)

    mfa_verified_at = None
    if user.mfa_enrolled:
        if not totp_code or not totp_code.strip():
            # Audited, as a right password that never sees its code is how a stolen password
            # shows; "interrupted", not a failure, as the portal's first step ends this way on
            # every two-step sign-in.
            audit_uncounted("auth.sign_in_mfa_pending", "interrupted", "mfa_required")
            return Outcome.refused(
                MfaRequired("Enter the code from your authenticator app.", code="mfa_required")
            )
        try:
            accepted = mfa.consume_code(ctx, user, totp_code)
        except mfa.TotpSecretUnreadable as unreadable:
            # Fails closed: no code can be checked. Not the caller's fault.
            audit_uncounted("auth.sign_in_failed", "failure", "totp_secret_unreadable")
            return Outcome.refused(unreadable)
        if not accepted:
            return Outcome.refused(attempt.failed(ctx, kind=FailureKind.TOTP, reason="bad_totp"))
        mfa_verified_at = ctx.now

    if not user.enabled:
        # Said only after every factor checked out, so it tells nothing to a guesser.
        return Outcome.refused(attempt.refuse_disabled_account(ctx))

    if check.rehash is not None:
        user.password_hash = check.rehash
    user.last_sign_in_at = ctx.now
    raw, token = issue_session(ctx, user, mfa_verified_at=mfa_verified_at)
    audit_attempt(
        ctx,
        "auth.signed_in",
        check,
        user,
        result="success",
        as_user=True,
        detail={"token_id": str(token.id), "mfa": mfa_verified_at is not None},
    )
    return Outcome.success((raw, token))


def confirm_password(ctx: Ctx, check: PasswordCheck, *, via: str) -> Outcome[User]:
    """Finish a password-only authentication that opens no session (the CLI's `--as`).

    The same rate limit, failure records and audit as `sign_in` (actions
    "auth.password_failed" / "auth.password_rate_limited", detail `via`); a second factor, when
    the command needs one, is proved by the operation itself. Runs in a write unit.
    """
    attempt, error = settle_password(
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
        return Outcome.refused(attempt.refuse_disabled_account(ctx))
    if check.rehash is not None:
        attempt.user.password_hash = check.rehash
    return Outcome.success(attempt.user)
