"""The rules every membership change must pass, each in one named function."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from openpim.assignments.models import MemberType
from openpim.assignments.queries import other_lasting_holders
from openpim.audit.writer import AuditEntry, record
from openpim.auth import mfa, ratelimit
from openpim.directory.models import User
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import Conflict, Forbidden, MfaRequired, Unauthorized, ValidationFailed
from openpim.policies.settings import MINIMUM_SCHEDULE, RoleSettings
from openpim.roles import ids

MAX_TEXT = 500
_PROTECTED_NAMES = {
    ids.GLOBAL_ADMINISTRATOR: ("Global Administrator", "last_global_administrator"),
    ids.PRIVILEGED_ROLE_ADMINISTRATOR: (
        "Privileged Role Administrator",
        "last_privileged_role_administrator",
    ),
}


def require_minimum_length(start: datetime, end: datetime | None, *, field: str) -> None:
    if end is not None and end - start < MINIMUM_SCHEDULE:
        raise ValidationFailed(
            "An assignment or activation must last at least 5 minutes.",
            code="duration_too_short",
            field=field,
        )


def require_window_not_past(now: datetime, end: datetime | None, *, field: str) -> None:
    if end is not None and end <= now:
        raise ValidationFailed(
            "The end time is already in the past.", code="end_in_past", field=field
        )


def require_assignment_policy(
    settings: RoleSettings, member_type: MemberType, start: datetime, end: datetime | None
) -> None:
    """Permanent allowed? Not longer than the role's maximum number of days?"""
    if member_type == MemberType.ELIGIBLE:
        allow_permanent, max_days = settings.eligible_allow_permanent, settings.eligible_max_days
        label = "Eligible"
    else:
        allow_permanent, max_days = settings.active_allow_permanent, settings.active_max_days
        label = "Active"
    if end is None and not allow_permanent:
        raise ValidationFailed(
            f"{label} assignments of this role must end within {max_days} days; "
            "permanent assignment is switched off in the role settings.",
            code="permanent_not_allowed",
            field="end_at",
        )
    if end is not None and not allow_permanent and end - start > timedelta(days=max_days):
        raise ValidationFailed(
            f"{label} assignments of this role may last at most {max_days} days.",
            code="assignment_too_long",
            field="end_at",
        )


def clean_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValidationFailed(
            f"{field} is longer than {MAX_TEXT} characters.", code="too_long", field=field
        )
    return value or None


def require_justification(required: bool, justification: str | None) -> None:
    if required and not justification:
        raise ValidationFailed(
            "This role requires a justification.",
            code="justification_required",
            field="justification",
        )


def require_ticket(required: bool, number: str | None, system: str | None) -> None:
    if required and not (number and system):
        raise ValidationFailed(
            "This role requires ticket information (ticket number and ticket system).",
            code="ticket_required",
            field="ticket_number" if not number else "ticket_system",
        )


def prove_mfa(ctx: Ctx, user: User, totp_code: str | None) -> None:
    """Fresh MFA proof: a TOTP check in this sign-in session recently enough, or a code now.

    API tokens never carry a session proof, so automation must send a code: a stolen token
    alone cannot activate a role that demands MFA.
    """
    if ctx.actor.kind == ActorKind.OPERATOR and ctx.actor.user_id is None:
        return  # the server operator has the database; nothing to prove to it
    verified_at = ctx.actor.mfa_verified_at
    if (
        totp_code is None
        and ctx.actor.token_kind == "session"  # noqa: S105 (a kind, not a secret)
        and verified_at is not None
        and ctx.now - verified_at <= ctx.settings.mfa_freshness
    ):
        return
    if user.totp_enrolled_at is None:
        raise Forbidden(
            "This role requires multi-factor authentication and you have not enrolled an "
            "authenticator app yet.",
            code="mfa_not_enrolled",
        )
    if not totp_code:
        raise MfaRequired(
            "This role requires multi-factor authentication: send a current code from your "
            "authenticator app (totp_code).",
            field="totp_code",
        )
    refusal = ratelimit.check(
        ctx, user_key=user.id, address=ctx.client_address, since_success=user.last_sign_in_at
    )
    if refusal is not None:
        limited = refusal.error()
        limited.after_rollback = _audit_mfa_refusal(user, "rate_limited")
        raise limited
    if not mfa.consume_code(ctx, user, totp_code):
        wrong = Unauthorized(
            "The authenticator code is wrong, expired or already used.",
            code="invalid_mfa_code",
            field="totp_code",
        )
        wrong.after_rollback = _count_mfa_failure(user)
        raise wrong


def _audit_mfa_refusal(user: User, reason: str) -> Callable[[Ctx], None]:
    user_id, directory_id, upn = user.id, user.directory_id, user.user_principal_name

    def audit(ctx: Ctx) -> None:
        record(
            ctx,
            AuditEntry(
                action="auth.mfa_failed",
                result="failure",
                directory_id=directory_id,
                target_user_id=user_id,
                target_label=upn,
                detail={"reason": reason, "during": "role operation"},
            ),
        )

    return audit


def _count_mfa_failure(user: User) -> Callable[[Ctx], None]:
    """A wrong code counts towards the same limit as sign-in failures, so it cannot be guessed."""
    audit = _audit_mfa_refusal(user, "bad_totp")
    user_id = user.id

    def count(ctx: Ctx) -> None:
        ratelimit.record_failure(
            ctx, user_key=user_id, address=ctx.client_address, kind=ratelimit.FailureKind.TOTP
        )
        audit(ctx)

    return count


def require_other_holder(
    ctx: Ctx,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    user_id: uuid.UUID,
    hold_ends_at: datetime,
) -> None:
    """Refuse to leave a directory without an active Global Administrator or PRA.

    The user's hold on the role is ending (removal, deactivation, conversion: `hold_ends_at` is
    now) or being shortened (an update: a later instant). Allowed only when another enabled user
    holds the role now and still holds it after `hold_ends_at`.
    """
    if role_id not in _PROTECTED_NAMES:
        return
    until = max(hold_ends_at, ctx.now)
    if other_lasting_holders(ctx, directory_id, role_id, user_id, until) > 0:
        return
    name, code = _PROTECTED_NAMES[role_id]
    raise Conflict(
        f"Refused: this would leave the directory without an active {name}. "
        f"Assign another {name} first.",
        code=code,
    )
