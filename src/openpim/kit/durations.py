"""ISO-8601 durations at the edges (API, CLI, settings); timedelta inside."""

from __future__ import annotations

from datetime import timedelta

from pydantic import TypeAdapter, ValidationError

from openpim.kit.errors import ValidationFailed

_adapter: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """Parse 'PT1H30M' style durations. Plain numbers are refused: their unit is a guess."""
    candidate = text.strip()
    if not candidate.upper().startswith("P"):
        raise ValidationFailed(
            f"{field} must be an ISO-8601 duration such as PT1H or PT30M, got {text!r}",
            field=field,
        )
    try:
        value = _adapter.validate_python(candidate.upper())
    except ValidationError:
        raise ValidationFailed(
            f"{field} must be an ISO-8601 duration such as PT1H or PT30M, got {text!r}",
            field=field,
        ) from None
    return value


def format_duration(value: timedelta) -> str:
    """Render a timedelta as ISO-8601 (PT8H, P1DT2H, PT30M)."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    if hours or minutes or seconds or not days:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if seconds or not (hours or minutes):
            out += f"{seconds}S"
    return out
