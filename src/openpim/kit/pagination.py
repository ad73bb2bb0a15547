"""Page-size and cursor checks shared by every list service."""

from __future__ import annotations

from datetime import UTC, datetime

from openpim.kit.errors import ValidationFailed


def require_page(limit: int, maximum: int, *, offset: int = 0, code: str = "invalid_limit") -> None:
    """Refuse a page size outside 1..maximum (or a negative offset) with a field-named error."""
    if not 1 <= limit <= maximum:
        raise ValidationFailed(f"limit must be 1 to {maximum}.", code=code, field="limit")
    if offset < 0:
        raise ValidationFailed("offset must not be negative.", code=code, field="offset")


# What a cursor's parts may hold. A cursor comes back from the client, so it is input: a
# number past 64 bits or an instant outside the years 1-9999 in UTC would fail in the
# database or in the conversion to UTC, as a server error, instead of "not one we handed out".
_INT64_MAX = 2**63 - 1


def cursor_number(text: str, *, minimum: int = 0) -> int:
    """A cursor's whole-number part (ASCII digits, minimum..2**63-1); ValueError otherwise."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    number = int(text)
    if not minimum <= number <= _INT64_MAX:
        raise ValueError(text)
    return number


def cursor_instant(text: str) -> datetime:
    """A cursor's instant (ISO 8601 with an offset) in UTC; ValueError otherwise."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(text)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(text) from None
