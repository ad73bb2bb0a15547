"""Domain errors: each carries a stable machine code and the HTTP status the API maps it to.

Services raise these and never HTTP exceptions; one handler in the API turns them into
problem+json (RFC 9457). The CLI maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.extra = extra or {}
        # Work that must be saved although the operation fails (a failed MFA attempt counts
        # towards the rate limit and is audited). Runtime.unit runs it in a fresh transaction
        # after rolling back the failed one. Takes a Ctx.
        self.after_rollback: Callable[[Any], None] | None = None


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    title = "Invalid value"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many attempts"

    def __init__(self, message: str, *, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, code=code, extra={"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class MfaRequired(DomainError):
    """The operation needs a fresh MFA proof (a TOTP code) that the caller did not give."""

    status = 401
    code = "mfa_required"
    title = "Multi-factor authentication required"
