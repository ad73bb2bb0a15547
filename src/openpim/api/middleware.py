"""The request envelope: request id, edge refusals, and the last line of error handling.

A plain ASGI middleware (no BaseHTTPMiddleware): it runs on every request, including the
access-check hot path, so it only looks at the headers it needs and wraps `send` once.

- X-Request-ID: a well-formed client value is kept (so a caller can follow its request through
  our logs and audit rows), anything else is replaced by a fresh id; the response echoes it.
- Deny by default: under the API prefix a request without an Authorization header is refused
  with 401 before routing, whatever the route declares (the routes check the token itself).
- Bodies over the size limit (by Content-Length up front, or while a chunked body streams in)
  and URLs carrying NUL bytes are refused here; no service is written to expect them.
- An exception nobody handled becomes a problem+json 500 carrying the request id, logged with
  its traceback; the client never sees the traceback.
"""

from __future__ import annotations

import logging
import re
import uuid

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpim.api.errors import ApiProblem, internal_error_response, problem

log = logging.getLogger("openpim.api")

REQUEST_ID_PATTERN = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]
# Over HTTPS only (RFC 6797: a browser ignores it over plain HTTP); behind a TLS-terminating
# proxy the scheme is https once the proxy is believed (OPENPIM_TRUSTED_PROXIES). A year, and
# no includeSubDomains: the domain's other hosts are their operators' choice.
_HTTPS_SECURITY_HEADERS = [*_SECURITY_HEADERS, (b"strict-transport-security", b"max-age=31536000")]


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_prefix: str,
        public_paths: frozenset[str],
        max_body_size: int,
    ) -> None:
        self.app = app
        self.api_prefix = api_prefix
        self.public_paths = public_paths
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id: str | None = None
        content_length = 0
        has_authorization = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if REQUEST_ID_PATTERN.fullmatch(value):
                    request_id = value.decode("ascii")
            elif name == b"authorization":
                has_authorization = bool(value.strip())
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else -1
        if request_id is None:
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode("ascii"))
        security = _HTTPS_SECURITY_HEADERS if scope.get("scheme") == "https" else _SECURITY_HEADERS
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), id_header, *security]
            await send(message)

        refusal = self._refusal(scope, request_id, content_length, has_authorization)
        if refusal is not None:
            await refusal(scope, receive, send_with_id)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            receive = self._limited(receive)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error in %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if started:
                raise  # the response is half sent: the server can only drop the connection
            await internal_error_response(request_id)(scope, receive, send_with_id)

    def _limited(self, receive: Receive) -> Receive:
        """`receive` that refuses a body growing past the limit (chunked, no Content-Length)."""
        received = 0
        limit = self.max_body_size

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI lets it through its body reading untouched.
                    raise ApiProblem(
                        413,
                        "content_too_large",
                        f"The request body may be at most {limit} bytes.",
                    )
            return message

        return limited

    def _refusal(
        self, scope: Scope, request_id: str, content_length: int, has_authorization: bool
    ) -> JSONResponse | None:
        query: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
        if b"%00" in query or b"%00" in raw_path or "\x00" in scope.get("path", ""):
            return problem(
                400,
                "nul_character",
                "The address contains a NUL character (%00), which no value here may hold.",
                request_id=request_id,
            )
        if content_length < 0 or content_length > self.max_body_size:
            return problem(
                413 if content_length > 0 else 400,
                "content_too_large" if content_length > 0 else "bad_request",
                f"The request body may be at most {self.max_body_size} bytes."
                if content_length > 0
                else "The Content-Length header is not a number.",
                request_id=request_id,
            )
        path: str = scope.get("path", "")
        if (
            not has_authorization
            and path.startswith(self.api_prefix)
            and path not in self.public_paths
        ):
            return problem(
                401,
                "not_signed_in",
                "Sign in and send the token as 'Authorization: Bearer <token>'.",
                title="Authentication required",
                request_id=request_id,
            )
        return None
