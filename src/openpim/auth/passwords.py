"""Password hashing (argon2id via argon2-cffi) and the password policy.

Only the hash is stored. Hashes made with older parameters are upgraded on the next successful
sign-in (`needs_rehash`). Sign-in for an unknown user still runs one verification against a
dummy hash (`dummy_verify`), so the response time does not tell which user names exist.

The hasher is a module-level object so a deployment (or the test suite, to keep tests fast) can
swap in other argon2id parameters with `use_hasher`; hashes made before the swap still verify
and are flagged for rehash.
"""

from __future__ import annotations

import contextlib
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from openpim.kit.errors import ValidationFailed

MIN_PASSWORD_LENGTH = 12
# argon2 accepts any length, but hashing megabyte inputs is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024

_lock = threading.Lock()
_hasher = PasswordHasher(type=Type.ID)  # RFC 9106 "low memory" defaults: t=3, m=64 MiB, p=4
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Replace the hasher (argon2id only); returns the previous one so callers can restore it."""
    global _hasher, _dummy_hash
    if hasher.type is not Type.ID:
        raise ValueError("only argon2id hashers are allowed")
    with _lock:
        previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def current_hasher() -> PasswordHasher:
    return _hasher


def check_policy(password: str, *, field: str = "password") -> None:
    """Refuse passwords that are too short or absurdly long, saying what would be accepted."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            code="password_too_short",
            field=field,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.",
            code="password_too_long",
            field=field,
        )
    if not password.strip():
        raise ValidationFailed(
            "The password must not be only white space.", code="password_blank", field=field
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches. A malformed stored hash counts as a mismatch."""
    if len(password) > MAX_PASSWORD_LENGTH:
        dummy_verify(password[:MAX_PASSWORD_LENGTH])
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def dummy_verify(password: str) -> None:
    """Spend the time of one real verification; used when there is no hash to check against."""
    global _dummy_hash
    with _lock:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("openpim-dummy-password-for-timing")
        dummy = _dummy_hash
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(dummy, password[:MAX_PASSWORD_LENGTH])
