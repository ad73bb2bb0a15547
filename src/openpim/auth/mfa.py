"""TOTP (RFC 6238 via pyotp): code checks and enrolment.

A code is accepted once: the matched time step is stored and any code for that step or an
earlier one is refused, so a code seen over someone's shoulder cannot be replayed. One step of
clock drift either way is tolerated.

Secrets are stored sealed with a key derived from OPENPIM_SECRET_KEY (openpim.kit.sealing),
as "enc1:" + a Fernet token, so a database dump does not hand out second factors. Rows written
before sealing hold the bare base32 secret (no ":" can occur in base32): they keep working, are
sealed the next time the row is written (a successful code, an enrolment), and all of them at
once by `seal_bare_secrets`, which `openpim migrate`, `init` and `serve` run. A secret sealed
under another server key fails closed with `TotpSecretUnreadable`: no code is accepted until
the key is restored or the user's MFA is reset.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple, cast

import pyotp
from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from openpim.access.service import active_role_ids
from openpim.assignments.models import Assignment, Eligibility
from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import can_manage_users
from openpim.auth.tokens import revoke_all_for_user
from openpim.config import Settings
from openpim.directory.models import User
from openpim.kit.context import ActorKind, Ctx
from openpim.kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    MfaRequired,
    NotFound,
    ValidationFailed,
)
from openpim.kit.sealing import Sealer, Unreadable
from openpim.roles.ids import LAST_HOLDER_PROTECTED
from openpim.roles.models import RoleDefinition

TOTP_STEP_SECONDS = 30
DRIFT_STEPS = 1
SEALED_PREFIX = "enc1:"
_SEALER = Sealer(info=b"openpim totp secrets v1", what="authenticator secrets")


class TotpSecretUnreadable(DomainError):
    """The stored secret was sealed under another server key: fail closed, say what to do."""

    status = 503
    code = "totp_secret_unreadable"
    title = "Authenticator secret unreadable"


def new_secret() -> str:
    return pyotp.random_base32()


def seal_secret(settings: Settings, secret: str) -> str:
    """The stored form of a TOTP secret."""
    return SEALED_PREFIX + _SEALER.seal(settings, secret)


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def open_secret(settings: Settings, stored: str) -> str:
    """The base32 secret from its stored form (sealed, or bare from before sealing)."""
    if not is_sealed(stored):
        return stored
    try:
        return _SEALER.unseal(settings, stored[len(SEALED_PREFIX) :])
    except Unreadable:
        raise TotpSecretUnreadable(
            "This account's authenticator secret cannot be decrypted with the server's "
            "OPENPIM_SECRET_KEY (was the key changed?). Restore the key, or have an "
            "administrator reset the user's MFA so they can enrol again."
        ) from None


def _sealed(settings: Settings, stored: str) -> str:
    return stored if is_sealed(stored) else seal_secret(settings, stored)


_SEAL_BATCH = 1_000
_users = cast(Table, User.__table__)
# Changes a row only if it still holds what was read: a secret enrolled meanwhile stays.
_SEAL_ROW = (
    update(_users)
    .where(
        _users.c.id == bindparam("row_id"),
        _users.c.totp_secret.is_not_distinct_from(bindparam("read_secret")),
        _users.c.totp_pending_secret.is_not_distinct_from(bindparam("read_pending")),
    )
    .values(totp_secret=bindparam("new_secret"), totp_pending_secret=bindparam("new_pending"))
)


def _bare(column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), column.not_like(f"{SEALED_PREFIX}%"))


def seal_bare_secrets(session: Session, settings: Settings) -> int:
    """Seal every TOTP secret (in force or pending) still stored bare by an older version, so a
    database dump taken after an upgrade holds no second factors in clear. Returns how many
    rows were found bare; idempotent. The secret's value is unchanged, so codes keep working."""
    query = (
        select(_users.c.id, _users.c.totp_secret, _users.c.totp_pending_secret)
        .where(or_(_bare(_users.c.totp_secret), _bare(_users.c.totp_pending_secret)))
        .order_by(_users.c.id)
    )
    sealed = 0
    after: uuid.UUID | None = None
    while True:
        page = query if after is None else query.where(_users.c.id > after)
        rows = session.execute(page.limit(_SEAL_BATCH)).all()
        if not rows:
            return sealed
        session.execute(
            _SEAL_ROW,
            [
                {
                    "row_id": user_id,
                    "read_secret": active,
                    "read_pending": pending,
                    "new_secret": None if active is None else _sealed(settings, active),
                    "new_pending": None if pending is None else _sealed(settings, pending),
                }
                for user_id, active, pending in rows
            ],
        )
        sealed += len(rows)
        after = rows[-1][0]


def provisioning_uri(secret: str, account: str, issuer: str = "OpenPIM") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code equals `code` within the drift window, or None."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(at.timestamp()) // TOTP_STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def consume_code(ctx: Ctx, user: User, code: str) -> bool:
    """Check `code` for `user` now and mark its step used (the caller's transaction persists
    it, and seals a secret still stored bare). Raises TotpSecretUnreadable under a wrong key."""
    if user.totp_secret is None or user.totp_enrolled_at is None:
        return False
    step = matching_step(open_secret(ctx.settings, user.totp_secret), code, ctx.now)
    if step is None:
        return False
    if user.totp_last_step is not None and step <= user.totp_last_step:
        return False
    user.totp_last_step = step
    user.totp_secret = _sealed(ctx.settings, user.totp_secret)
    return True


# --- enrolment ------------------------------------------------------------------------------
#
# A new secret is kept in `totp_pending_secret` until a code from it is confirmed; the secret
# in force (if any) keeps working until then, so re-enrolment never leaves the account without
# its second factor. Who may enrol:
# - the user, for themselves: freely while not enrolled; once enrolled only with a fresh MFA
#   proof in the session (a step-up within settings.mfa_freshness), so a stolen password-only
#   session cannot move the second factor to the thief's phone;
# - a user administrator, for someone else (audited). Users who hold a privileged role
#   (eligible or active, now or later) can only be handled by an active Global or Privileged
#   Role Administrator or the operator: otherwise a User Administrator could take over a
#   Global Administrator's second factor.


class TotpEnrollment(NamedTuple):
    secret: str
    otpauth_uri: str


def _user(ctx: Ctx, user_id: uuid.UUID) -> User:
    user = ctx.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


def _is_self(ctx: Ctx, user: User) -> bool:
    return ctx.actor.user_id == user.id and ctx.actor.directory_id == user.directory_id


def _mfa_fresh(ctx: Ctx) -> bool:
    proved = ctx.actor.mfa_verified_at
    return proved is not None and ctx.now - proved <= ctx.settings.mfa_freshness


def _holds_privileged_role(ctx: Ctx, user: User) -> bool:
    for table in (Assignment, Eligibility):
        found = ctx.session.execute(
            select(table.id)
            .join(RoleDefinition, RoleDefinition.id == table.role_id)
            .where(
                table.principal_id == user.id,
                RoleDefinition.is_privileged.is_(True),
                or_(table.end_at.is_(None), table.end_at > ctx.now),
            )
            .limit(1)
        ).first()
        if found is not None:
            return True
    return False


def _require_admin_for(ctx: Ctx, user: User) -> None:
    if not can_manage_users(ctx, user.directory_id):
        raise Forbidden(
            "Only the user or a user administrator can change this user's MFA enrolment.",
            code="not_user_administrator",
        )
    if ctx.actor.kind != ActorKind.USER or not _holds_privileged_role(ctx, user):
        return
    assert ctx.actor.user_id is not None  # can_manage_users passed for a USER actor
    if not active_role_ids(ctx.session, ctx.actor.user_id, ctx.now) & set(LAST_HOLDER_PROTECTED):
        raise Forbidden(
            "The MFA enrolment of a privileged user can only be changed by an active Global "
            "Administrator or Privileged Role Administrator.",
            code="privileged_target",
        )


def _audit(ctx: Ctx, action: str, user: User, **detail: object) -> None:
    record(
        ctx,
        AuditEntry(
            action=action,
            directory_id=user.directory_id,
            target_user_id=user.id,
            target_label=user.user_principal_name,
            detail=dict(detail),
        ),
    )


def begin_totp_enrollment(ctx: Ctx, user_id: uuid.UUID) -> TotpEnrollment:
    """A new pending TOTP secret and its otpauth:// URI (for the QR code), returned only here."""
    user = _user(ctx, user_id)
    by_admin = not _is_self(ctx, user)
    if by_admin:
        _require_admin_for(ctx, user)
    elif user.mfa_enrolled and not _mfa_fresh(ctx):
        raise MfaRequired(
            "Confirm a code from your current authenticator (step-up) before enrolling a new one.",
            code="mfa_required",
        )
    secret = new_secret()
    user.totp_pending_secret = seal_secret(ctx.settings, secret)
    _audit(ctx, "mfa.enrollment_started", user, by_admin=by_admin, re_enrollment=user.mfa_enrolled)
    return TotpEnrollment(secret, provisioning_uri(secret, user.user_principal_name))


def confirm_totp_enrollment(ctx: Ctx, user_id: uuid.UUID, code: str) -> User:
    """Put the pending secret in force once a code from it checks out."""
    user = _user(ctx, user_id)
    by_admin = not _is_self(ctx, user)
    if by_admin:
        _require_admin_for(ctx, user)
    if user.totp_pending_secret is None:
        raise Conflict("There is no TOTP enrolment to confirm.", code="no_pending_enrollment")
    step = matching_step(open_secret(ctx.settings, user.totp_pending_secret), code, ctx.now)
    if step is None:
        raise ValidationFailed(
            "The code does not match the new authenticator secret.",
            code="invalid_code",
            field="code",
        )
    re_enrollment = user.mfa_enrolled
    user.totp_secret = _sealed(ctx.settings, user.totp_pending_secret)
    user.totp_pending_secret = None
    user.totp_enrolled_at = ctx.now
    user.totp_last_step = step
    _audit(ctx, "mfa.enrolled", user, by_admin=by_admin, re_enrollment=re_enrollment)
    return user


def reset_totp(ctx: Ctx, user_id: uuid.UUID) -> User:
    """Remove a user's second factor (lost device) so they enrol again; ends their sessions."""
    user = _user(ctx, user_id)
    if _is_self(ctx, user):
        raise Forbidden(
            "You cannot remove your own second factor; enrol a new authenticator instead.",
            code="cannot_reset_own_mfa",
        )
    _require_admin_for(ctx, user)
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    revoked = revoke_all_for_user(ctx, user.id)
    _audit(ctx, "mfa.reset", user, tokens_revoked=revoked)
    return user
