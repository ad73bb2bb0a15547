"""TOTP (RFC 6238 via pyotp): enrolment secrets and code checks.

A code is accepted once: the matched time step is stored and any code for that step or an
earlier one is refused, so a code seen over someone's shoulder cannot be replayed. One step of
clock drift either way is tolerated.
"""

from __future__ import annotations

from datetime import datetime

import pyotp

from openpim.directory.models import User

TOTP_STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = "OpenPIM") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code equals `code` within the drift window, or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(at.timestamp()) // TOTP_STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def consume_code(user: User, code: str, at: datetime) -> bool:
    """Check `code` for `user` and mark its step used. The caller's transaction persists it."""
    if user.totp_secret is None or user.totp_enrolled_at is None:
        return False
    step = matching_step(user.totp_secret, code, at)
    if step is None:
        return False
    if user.totp_last_step is not None and step <= user.totp_last_step:
        return False
    user.totp_last_step = step
    return True
