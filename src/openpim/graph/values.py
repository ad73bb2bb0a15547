"""Graph's scalar values at the edge: datetimes, durations and ids.

Durations: Graph speaks ISO-8601 ("PT1H", "P365D"). Microsoft's Python SDK serialises a
timedelta with str() ("1:00:00", "2 days, 0:30:00"), a known SDK bug, so both forms are read.
Years and months are refused (they have no fixed length) and so are negative durations.

Datetimes must carry their UTC offset: a naive one names no instant, and guessing UTC would move
an activation by hours for a client in another zone.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from openpim.graph.errors import GraphError, bad_request
from openpim.graph.odata.errors import ODataError

_ISO_DURATION = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
# str(timedelta): "1:00:00", "2 days, 0:30:00", "1 day, 0:00:00.500000"
_PY_DURATION = re.compile(
    r"(?:(?P<days>\d+) days?, )?(?P<hours>\d{1,2}):(?P<minutes>\d{2}):(?P<seconds>\d{2})"
    r"(?:\.(?P<fraction>\d{1,6}))?"
)
MAX_DURATION = timedelta(days=3650 * 2)


def parse_duration(text: object, *, field: str) -> timedelta:
    if not isinstance(text, str):
        raise bad_request(f"{field} must be an ISO-8601 duration such as PT8H.")
    value = text.strip()
    iso = _ISO_DURATION.fullmatch(value.upper())
    if iso is not None and value.upper() != "PT":
        parts = {k: float(v) for k, v in iso.groupdict().items() if v is not None}
        result = timedelta(
            weeks=parts.get("weeks", 0),
            days=parts.get("days", 0),
            hours=parts.get("hours", 0),
            minutes=parts.get("minutes", 0),
            seconds=parts.get("seconds", 0),
        )
    else:
        py = _PY_DURATION.fullmatch(value)
        if py is None:
            hint = ""
            if value.upper().startswith("P") and re.search(r"\d[YM]", value.upper().split("T")[0]):
                hint = " Years and months have no fixed length; use days (P365D)."
            raise bad_request(
                f"{field} {text!r} is not a duration: use ISO-8601 such as PT8H or P1DT30M." + hint
            )
        fraction = (py.group("fraction") or "").ljust(6, "0")
        result = timedelta(
            days=int(py.group("days") or 0),
            hours=int(py.group("hours")),
            minutes=int(py.group("minutes")),
            seconds=int(py.group("seconds")),
            microseconds=int(fraction or 0),
        )
    if result > MAX_DURATION:
        raise bad_request(f"{field} {text!r} is longer than any setting allows.")
    return result


def format_duration(value: timedelta) -> str:
    """ISO-8601 as Graph writes it: P365D, PT8H, PT1H30M, P1DT2H."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    out = "P" + (f"{days}D" if days else "") + ("T" + time if time else "")
    return "PT0S" if out == "P" else out


def parse_offset_datetime(text: str, *, what: str) -> datetime:
    """An ISO-8601 datetime that carries its UTC offset; naive ones are refused (zone unknown)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ODataError(f"{what} {text!r} is not an ISO-8601 datetime.") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ODataError(
            f"{what} {text!r} has no UTC offset; write it as e.g. 2026-01-05T09:00:00Z "
            "(a '+' offset in a URL must be encoded as %2B)."
        )
    return value


def parse_datetime(text: object, *, field: str) -> datetime:
    if not isinstance(text, str):
        raise bad_request(f"{field} must be an ISO-8601 datetime with a UTC offset.")
    try:
        return parse_offset_datetime(text, what=field).astimezone(UTC)
    except GraphError as err:
        raise bad_request(err.message) from None


def iso(value: datetime | None) -> str | None:
    """A UTC instant as Graph writes it: 2026-01-05T09:00:00Z."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_guid(text: object, *, field: str) -> uuid.UUID:
    if isinstance(text, str):
        try:
            return uuid.UUID(text.strip())
        except ValueError:
            pass
    raise bad_request(f"{field} must be a GUID, got {text!r}.")


def guid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
