"""What the API refuses before any schema or service sees it: values no database can hold.

- Text with NUL characters (PostgreSQL text cannot store them) or unpaired UTF-16 surrogates
  (not encodable as UTF-8). A JSON escape of a valid pair ("\\ud83d\\ude00") decodes into one
  character and passes.
- Instants that do not exist in UTC: "0001-01-01T00:00:00+14:00" is a valid ISO-8601 string,
  but in UTC it falls before year 1, and every comparison or conversion of it would fail.
- Numbers no column holds: integers outside 64 bits (PostgreSQL's bigint refuses them with an
  error, SQLite's driver with an OverflowError) and the non-finite NaN and Infinity, which
  Python's JSON parser accepts although JSON has no such values.

Bodies are checked by StrictRoute (any JSON string or number, wherever it sits); query
parameters by the UtcDatetime and Offset types.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime

from openpim.api.errors import ApiProblem

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_LOOKS_LIKE_INSTANT = re.compile(r"[+-]?\d{4,}-\d{2}-\d{2}[T ]\d{2}")
_INT64 = range(-(2**63), 2**63)

# How far into a list a page may start: far beyond any real list, and well inside the 64 bits
# a database takes for OFFSET.
MAX_OFFSET = 10_000_000
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="Items to skip before the page starts")
]


def representable_in_utc(value: datetime) -> bool:
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _to_utc(value: datetime) -> datetime:
    if not representable_in_utc(value):
        raise ValueError("the instant is outside the years 1 to 9999 in UTC")
    return value.astimezone(UTC)


# An aware datetime, normalised to UTC; refused (422) when it does not exist in UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _bad_text(text: str) -> str | None:
    if _UNSTORABLE.search(text):
        return "unstorable_text"
    if _LOOKS_LIKE_INSTANT.match(text):
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None  # not an instant after all, or one for pydantic to refuse
        if value.tzinfo is not None and not representable_in_utc(value):
            return "instant_out_of_range"
    return None


def find_bad_value(
    value: Any, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], str] | None:
    """The first value in a JSON document that no column could hold: (path, problem code)."""
    if isinstance(value, str):
        code = _bad_text(value)
        return (path, code) if code else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if value in _INT64 else (path, "number_out_of_range")
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "number_out_of_range")
    if isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key):
                return (*path, "<key>"), "unstorable_text"
            found = find_bad_value(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_bad_value(item, (*path, index))
            if found is not None:
                return found
    return None


_MESSAGES = {
    "unstorable_text": "Text may not contain NUL characters or unpaired UTF-16 surrogates",
    "instant_out_of_range": "The instant is outside the years 1 to 9999 in UTC",
    "number_out_of_range": "Numbers must be finite and fit in 64 bits",
}


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            value = json.loads(await self.body())
            bad = find_bad_value(value)
            if bad is not None:
                path, code = bad
                field = next((str(p) for p in reversed(path) if isinstance(p, str)), None)
                where = ".".join(str(p) for p in ("body", *path))
                raise ApiProblem(422, code, f"{_MESSAGES[code]} (at {where}).", field=field)
            self._json = value
        return self._json


class StrictRoute(APIRoute):
    """Routes with a JSON body check it as above before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict_handler(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_handler
