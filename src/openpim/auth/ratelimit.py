"""Sign-in and TOTP failure limits, counted from AuthFailure rows.

The counters live in the database, so every server process sees the same numbers. Two limits
apply to each attempt, both over `settings.sign_in_failure_window`:

- per user: `settings.sign_in_failures_per_user` failures (password or TOTP, sign-in or
  step-up) since the later of the window start and the user's last successful sign-in;
- per client address: `settings.sign_in_failures_per_address` failures, whoever they were for.

A refused attempt is not itself a failure: counting refusals would let an attacker keep a user
locked out for ever, while the window already bounds the guessing rate.

Attempts for user names that do not exist are keyed by a stable pseudo id derived from the
name (`unknown_user_key`), so they hit the per-user limit exactly like real users do and the
limit does not reveal which names exist.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select

from openpim.auth.models import AuthFailure
from openpim.kit.context import Ctx
from openpim.kit.errors import RateLimited

_UNKNOWN_USER_NAMESPACE = uuid.UUID("3f0d2a47-6a53-4c3e-9d59-0d6c1e7f7b21")
ADDRESS_MAX_LENGTH = 64


class FailureKind:
    PASSWORD = "password"  # noqa: S105 (a label, not a secret)
    TOTP = "totp"


def unknown_user_key(directory_id: uuid.UUID | None, user_principal_name: str) -> uuid.UUID:
    """A pseudo user id for a name with no account (never collides with a real uuid4)."""
    scope = str(directory_id) if directory_id else "*"
    return uuid.uuid5(_UNKNOWN_USER_NAMESPACE, f"{scope}:{user_principal_name[:320]}")


def _address(address: str | None) -> str | None:
    return address[:ADDRESS_MAX_LENGTH] if address else None


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before any secret is checked."""

    scope: str  # "user" or "address"
    retry_after_seconds: int

    def error(self) -> RateLimited:
        return RateLimited(
            "Too many failed attempts. Wait before trying again.",
            code="too_many_attempts",
            retry_after_seconds=self.retry_after_seconds,
        )


def _retry_after(ctx: Ctx, nth_latest: datetime) -> int:
    # The attempt is allowed again once the limit-th most recent failure leaves the window.
    seconds = (nth_latest + ctx.settings.sign_in_failure_window - ctx.now).total_seconds()
    return max(1, math.ceil(seconds))


def _nth_latest_failure(ctx: Ctx, limit: int, *conditions: ColumnElement[bool]) -> datetime | None:
    """The `limit`-th most recent matching failure in the window, or None when under the limit."""
    statement = (
        select(AuthFailure.at)
        .where(*conditions)
        .order_by(AuthFailure.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return ctx.session.execute(statement).scalar_one_or_none()


def check(
    ctx: Ctx,
    *,
    user_key: uuid.UUID | None,
    address: str | None,
    since_success: datetime | None = None,
) -> Refusal | None:
    """Whether another attempt for `user_key` from `address` must be refused now."""
    window_start = ctx.now - ctx.settings.sign_in_failure_window
    if user_key is not None:
        start = max(window_start, since_success) if since_success else window_start
        nth = _nth_latest_failure(
            ctx,
            ctx.settings.sign_in_failures_per_user,
            AuthFailure.user_id == user_key,
            AuthFailure.at > start,
        )
        if nth is not None:
            return Refusal("user", _retry_after(ctx, nth))
    addr = _address(address)
    if addr is not None:
        nth = _nth_latest_failure(
            ctx,
            ctx.settings.sign_in_failures_per_address,
            AuthFailure.address == addr,
            AuthFailure.at > window_start,
        )
        if nth is not None:
            return Refusal("address", _retry_after(ctx, nth))
    return None


def record_failure(ctx: Ctx, *, user_key: uuid.UUID | None, address: str | None, kind: str) -> None:
    ctx.session.add(AuthFailure(at=ctx.now, user_id=user_key, address=_address(address), kind=kind))
