"""`Outcome`: how an authentication refusal outlives the transaction that recorded it.

Failed attempts must stay on record even though the caller is refused: the rate limiter counts
them and the audit shows them. A unit of work rolls back when an exception leaves it, so the
functions that check a secret the caller may not know (`sign_in`, `confirm_password`,
`step_up`) do not raise for a refused attempt. They write the AuthFailure row and audit event
in the caller's transaction and return an `Outcome` holding the error; the adapter lets the
unit commit, then unwraps:

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

from typing import Generic, TypeVar

from openpim.kit.errors import DomainError

T = TypeVar("T")


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
