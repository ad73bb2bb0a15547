"""Every error leaves the API as application/problem+json (RFC 9457).

Body: {"type": "https://openpim.dev/problems/<code>", "title", "status", "detail", "code",
"request_id"} plus "field" when one input is to blame, "errors" for request validation, and the
domain error's extra facts (retry_after_seconds, ...). Unexpected exceptions become a bare 500
with the request id to quote; the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openpim.kit.errors import DomainError, RateLimited

log = logging.getLogger("openpim.api")

PROBLEM_TYPE = "https://openpim.dev/problems/"
PROBLEM_JSON = "application/problem+json"
# Keys a domain error's `extra` may not overwrite.
_RESERVED = frozenset({"type", "title", "status", "detail", "code", "field", "request_id"})
MAX_LISTED_ERRORS = 20

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class ApiProblem(StarletteHTTPException):
    """An HTTP-level refusal raised by the API layer itself (before any service ran)."""

    def __init__(self, status: int, code: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(status_code=status, detail=detail)
        self.code = code
        self.field = field


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    request_id: str | None,
    title: str | None = None,
    field: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": title or _title(status),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    for key, value in (extra or {}).items():
        if key not in _RESERVED:
            body[key] = value
    body["request_id"] = request_id
    # The X-Request-ID header is added by the request middleware to every response.
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, headers=all_headers, media_type=PROBLEM_JSON)


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, int(exc.retry_after_seconds)))
    if exc.status == 401:
        error = "invalid_token" if exc.code == "invalid_token" else None
        headers["WWW-Authenticate"] = f'Bearer error="{error}"' if error else "Bearer"
    return problem(
        exc.status,
        exc.code,
        exc.message,
        title=exc.title,
        field=exc.field,
        extra=_jsonable(exc.extra),
        headers=headers,
        request_id=request_id_of(request),
    )


def _jsonable(extra: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in extra.items():
        out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return out


def _loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only loc, msg and type: pydantic's "input" and "ctx" would echo the client's values back,
    # passwords and megabyte strings included.
    errors = [
        {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in exc.errors()[:MAX_LISTED_ERRORS]
    ]
    field = None
    if errors:
        names = [p for p in errors[0]["loc"] if isinstance(p, str)]
        if len(names) > 1 and names[0] in ("body", "query", "path", "header"):
            field = names[-1]
    detail = (
        "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
        or "The request is not valid."
    )
    return problem(
        422,
        "invalid_request",
        detail,
        title="Invalid request",
        field=field,
        extra={"errors": errors},
        request_id=request_id_of(request),
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if isinstance(exc, ApiProblem):
        code, field = exc.code, exc.field
    else:
        code, field = _HTTP_CODES.get(status, "http_error"), None
    detail = exc.detail if isinstance(exc.detail, str) else _title(status)
    if status == 404 and not isinstance(exc, ApiProblem):
        detail = "There is nothing at this address."
    if status == 405:
        detail = f"{request.method} is not allowed here."
    headers = dict(exc.headers or {})
    return problem(
        status, code, detail, field=field, headers=headers, request_id=request_id_of(request)
    )


def internal_error_response(request_id: str | None) -> JSONResponse:
    return problem(
        500,
        "internal_error",
        "Something went wrong on the server. Quote the request id when reporting it.",
        request_id=request_id,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
