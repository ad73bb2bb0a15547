"""Errors under /v1.0 in Microsoft Graph's shape, with Graph's codes where Graph has one.

    {"error": {"code": "...", "message": "...",
               "innerError": {"date", "request-id", "client-request-id", "openpim-code"}}}

The native API's problem+json handlers are installed on the whole app; the Graph routes use
GraphRoute, whose handler turns every error raised while serving a /v1.0 request (domain errors
from the services, request validation, HTTP errors) into this shape before the app-wide handlers
could see it. The services' own stable code travels in innerError["openpim-code"].

Policy refusals become RoleAssignmentRequestPolicyValidationFailed naming the failed rule the
way Entra does ("The following policy rules failed: [\\"MfaRule\\"]").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from openpim.api.inputs import find_bad_value
from openpim.kit.clock import SystemClock
from openpim.kit.errors import DomainError, RateLimited

log = logging.getLogger("openpim.graph")

POLICY_FAILED = "RoleAssignmentRequestPolicyValidationFailed"

# Domain codes that are a role-setting rule refusing the request -> the rule Graph names.
POLICY_RULES = {
    "duration_out_of_bounds": "ExpirationRule",
    "assignment_too_long": "ExpirationRule",
    "permanent_not_allowed": "ExpirationRule",
    "eligibility_ends_too_soon": "ExpirationRule",
    "mfa_required": "MfaRule",
    "invalid_mfa_code": "MfaRule",
    "mfa_not_enrolled": "MfaRule",
    "justification_required": "JustificationRule",
    "ticket_required": "TicketingRule",
    "not_eligible": "EligibilityRule",
}
# Other domain codes with a Graph code of their own: code -> (status, Graph code).
DOMAIN_CODES: dict[str, tuple[int, str]] = {
    "role_assignment_exists": (400, "RoleAssignmentExists"),
    "already_active": (400, "RoleAssignmentExists"),
    "duration_too_short": (400, "ActiveDurationTooShort"),
    "deactivation_too_soon": (400, "ActiveDurationTooShort"),
    "role_assignment_not_found": (404, "RoleAssignmentDoesNotExist"),
    "not_active": (404, "RoleAssignmentDoesNotExist"),
    "nothing_to_renew": (404, "RoleAssignmentDoesNotExist"),
    "request_pending": (400, "PendingRoleAssignmentRequest"),
    "invalid_token": (401, "InvalidAuthenticationToken"),
    "not_signed_in": (401, "InvalidAuthenticationToken"),
}
# By the domain error's HTTP status when no code above matches.
STATUS_CODES = {
    400: (400, "Request_BadRequest"),
    401: (401, "InvalidAuthenticationToken"),
    403: (403, "Authorization_RequestDenied"),
    404: (404, "Request_ResourceNotFound"),
    409: (409, "Request_Conflict"),
    422: (400, "Request_BadRequest"),
    429: (429, "TooManyRequests"),
}


class GraphError(Exception):
    """An error already in Graph terms; raised by the Graph layer itself."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        openpim_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.openpim_code = openpim_code
        self.headers = dict(headers or {})


def bad_request(message: str) -> GraphError:
    return GraphError(400, "Request_BadRequest", message)


def reject_unstorable(body: Any) -> None:
    """The native API's check of a JSON body, answered as Graph's 400."""
    if find_bad_value(body) is not None:
        raise bad_request("Text may not contain NUL characters or unpaired UTF-16 surrogates.")


def not_found(message: str = "Resource not found.") -> GraphError:
    return GraphError(404, "Request_ResourceNotFound", message)


def from_domain(err: DomainError) -> GraphError:
    headers: dict[str, str] = {}
    if isinstance(err, RateLimited):
        headers["Retry-After"] = str(max(1, int(err.retry_after_seconds)))
    if err.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    rule = POLICY_RULES.get(err.code)
    if rule is not None:
        message = f"The following policy rules failed: {json.dumps([rule])}. {err.message}"
        return GraphError(400, POLICY_FAILED, message, openpim_code=err.code, headers=headers)
    status, code = DOMAIN_CODES.get(err.code) or STATUS_CODES.get(
        err.status, (err.status, "Request_BadRequest")
    )
    message = err.message if err.field is None else f"{err.message} (field: {err.field})"
    return GraphError(status, code, message, openpim_code=err.code, headers=headers)


def _now(request: Request) -> datetime:
    runtime = getattr(request.app.state, "runtime", None)
    clock = getattr(runtime, "clock", None)
    return (clock or SystemClock()).now()


def error_response(request: Request, err: GraphError) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    inner: dict[str, Any] = {
        "date": _now(request).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": request.headers.get("client-request-id", request_id),
    }
    if err.openpim_code is not None:
        inner["openpim-code"] = err.openpim_code
    body = {"error": {"code": err.code, "message": err.message, "innerError": inner}}
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{loc}: {error.get('msg', '')}" if loc else str(error.get("msg", "")))
    return "The request is not valid: " + ("; ".join(parts) or "malformed body") + "."


def to_graph_error(exc: Exception) -> GraphError | None:
    """The Graph error for an exception raised while serving a request, None if unexpected."""
    if isinstance(exc, GraphError):
        return exc
    if isinstance(exc, DomainError):
        return from_domain(exc)
    if isinstance(exc, RequestValidationError):
        return bad_request(_validation_message(exc))
    if isinstance(exc, StarletteHTTPException):
        code = STATUS_CODES.get(exc.status_code, (exc.status_code, "Request_BadRequest"))[1]
        detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
        return GraphError(exc.status_code, code, detail, headers=exc.headers)
    return None


class GraphRoute(APIRoute):
    """A route whose every error leaves in Graph's shape (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def graph_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                err = to_graph_error(exc)
                if err is None:
                    request_id = request.scope.get("state", {}).get("request_id")
                    log.exception("unhandled error in Graph request (request id %s)", request_id)
                    err = GraphError(
                        500,
                        "InternalServerError",
                        "Something went wrong on the server. Quote the request id when "
                        "reporting it.",
                    )
                return error_response(request, err)

        return graph_handler
