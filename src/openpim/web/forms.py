"""Small helpers for form input: text checks, ids, users by name, local date-times, safe redirect
targets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from openpim.directory import service as directory_service
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import ValidationFailed

MAX_OFFSET_MINUTES = 14 * 60


def text(value: str | None) -> str | None:
    """A stripped value, None when empty; NUL characters are refused (no column can hold them)."""
    if value is None:
        return None
    if "\x00" in value:
        raise ValidationFailed("Text may not contain NUL characters.", code="unstorable_text")
    value = value.strip()
    return value or None


def parse_id(value: str | None, field: str) -> uuid.UUID | None:
    value = text(value)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} is not a valid id.", code="invalid_id", field=field
        ) from None


def named_user(ctx: Ctx, directory_id: uuid.UUID, name: str, field: str) -> User:
    """The user a form names by user principal name; an unknown name is that field's error."""
    found = directory_service.find_user_by_upn(ctx, directory_id, name)
    if found is None:
        raise ValidationFailed(
            f"There is no user named {name} in this directory.", code="user_not_found", field=field
        )
    return found


def local_datetime(value: str | None, offset_minutes: str | None, field: str) -> datetime | None:
    """A datetime-local input ("2026-01-05T09:30") in the browser's zone, as UTC.

    static/app.js puts the browser's UTC offset for that very date in the hidden
    `<field>_offset` input (minutes east of UTC); without it the value is read as UTC, as the
    form says.
    """
    value = text(value)
    if value is None:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "Enter a date and time such as 2026-01-05 09:30.", code="invalid_datetime", field=field
        ) from None
    offset = 0
    raw = text(offset_minutes)
    if raw is not None:
        try:
            offset = int(raw)
        except ValueError:
            offset = 0
        if abs(offset) > MAX_OFFSET_MINUTES:
            offset = 0
    try:
        if naive.tzinfo is not None:
            return naive.astimezone(UTC)
        return naive.replace(tzinfo=UTC) - timedelta(minutes=offset)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00: before year 1 once in UTC
        raise ValidationFailed(
            "Enter a date and time between the years 1 and 9999.",
            code="instant_out_of_range",
            field=field,
        ) from None


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """Only same-site paths: an open redirect would lend our name to a phishing page."""
    value = text(value)
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
