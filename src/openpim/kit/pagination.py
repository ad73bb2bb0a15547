"""Page-size checks shared by every list service."""

from __future__ import annotations

from openpim.kit.errors import ValidationFailed


def require_page(limit: int, maximum: int, *, offset: int = 0, code: str = "invalid_limit") -> None:
    """Refuse a page size outside 1..maximum (or a negative offset) with a field-named error."""
    if not 1 <= limit <= maximum:
        raise ValidationFailed(f"limit must be 1 to {maximum}.", code=code, field="limit")
    if offset < 0:
        raise ValidationFailed("offset must not be negative.", code=code, field="offset")
