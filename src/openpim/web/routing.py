"""The portal's route class: HTML errors, sign-in redirects and browser security headers.

The app's exception handlers speak problem+json for the API. Portal routes catch what their
handlers let through here and answer in HTML: a missing or ended session goes to the sign-in
page (with HX-Redirect for htmx requests, which would otherwise swap the sign-in page into a
fragment), other domain errors become an error page with their message and status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from openpim.kit.errors import DomainError, Unauthorized, ValidationFailed
from openpim.web.security import apply_binding, clear_session_cookie, session_cookie
from openpim.web.templating import render

log = logging.getLogger("openpim.web")

SESSION_CODES = frozenset({"not_signed_in", "invalid_token"})
# Pages load only our own scripts and styles; nothing may frame them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def redirect(request: Request, url: str) -> Response:
    """303 for a plain form post; an HX-Redirect for htmx, which follows it as a full load."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _to_sign_in(request: Request) -> Response:
    params: dict[str, str] = {}
    if (
        request.method == "GET"
        and not is_htmx(request)
        and request.url.path not in ("/", "/sign-in")
    ):
        target = request.url.path + ("?" + request.url.query if request.url.query else "")
        params["next"] = target
    if session_cookie(request) is not None:
        params["msg"] = "session_ended"
    response = redirect(request, "/sign-in" + ("?" + urlencode(params) if params else ""))
    clear_session_cookie(request, response)
    return response


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"title": title, "error": message, "status": status},
        status_code=status,
    )


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _refuse_unstorable_form_text(request: Request) -> None:
    """No form field may carry a NUL character, whichever page reads it: PostgreSQL text cannot
    hold one, so a name looked up or written to the audit would fail as a server error. The
    query string is refused by the middleware already; this is the form's half (the API's is
    StrictRoute). Starlette keeps the parsed form, so the handler does not parse it again."""
    if request.method != "POST":
        return
    if not request.headers.get("content-type", "").startswith(_FORM_TYPES):
        return
    form = await request.form()
    for name, value in form.multi_items():
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            raise ValidationFailed(
                "Text may not contain NUL characters.", code="unstorable_text", field=name
            )


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def web_handler(request: Request) -> Response:
            try:
                await _refuse_unstorable_form_text(request)
                response = await handler(request)
            except Unauthorized as exc:
                if exc.code in SESSION_CODES:
                    response = _to_sign_in(request)
                else:
                    response = error_page(request, exc.status, exc.title, exc.message)
            except DomainError as exc:
                response = error_page(request, exc.status, exc.title, exc.message)
            except RequestValidationError as exc:
                fields = sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()})
                response = error_page(
                    request,
                    422,
                    "Invalid form",
                    "Some fields of the form are missing or not valid: " + ", ".join(fields),
                )
            except HTTPException as exc:
                message = exc.detail if isinstance(exc.detail, str) else "Not found."
                response = error_page(request, exc.status_code, "Not found", message)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            apply_binding(request, response)
            return response

        return web_handler
