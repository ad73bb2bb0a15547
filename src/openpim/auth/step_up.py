"""Step-up: proving MFA with a TOTP code inside one's own sign-in session.

Rate limited with the same failure counters as sign-in; a wrong code is counted and audited,
and the refusal is returned in an `Outcome` so it is committed before it is raised
(`openpim.auth.outcome`). Only sign-in sessions can step up, so an API token never satisfies an
MFA requirement.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from openpim.audit.writer import AuditEntry, record
from openpim.auth import mfa, ratelimit
from openpim.auth.models import AuthToken
from openpim.auth.outcome import Outcome
from openpim.auth.ratelimit import FailureKind
from openpim.auth.tokens import API, SESSION, ended_reason
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, Forbidden, Unauthorized


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
    try:
        accepted = mfa.consume_code(ctx, user, totp_code)
    except mfa.TotpSecretUnreadable as unreadable:
        # Fails closed, and audited as sign-in does; not the caller's fault, so not counted.
        audit("auth.step_up_failed", "failure", reason="totp_secret_unreadable")
        return Outcome.refused(unreadable)
    if not accepted:
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
