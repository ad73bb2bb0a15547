"""UTC calendar days, in SQL (the day of a stored instant) and in Python."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func

TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)


def day_of(dialect: str, column: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)  # SQLite keeps naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'


def as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def days_in(since: datetime, until: datetime) -> list[date]:
    """The UTC days that [since, until) touches, in order."""
    first, last = since.astimezone(UTC).date(), (until - TICK).astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
