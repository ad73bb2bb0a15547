"""Portal cookies and CSRF protection.

Session cookie: the raw sign-in session token (auth.tokens keeps only its hash), HttpOnly,
SameSite=Lax, Path=/. Over HTTPS it is also Secure and named with the `__Host-` prefix, which
the browser only accepts from this exact host over TLS, so a sibling subdomain cannot plant or
overwrite it. Idle and absolute timeouts are the token's own (auth.tokens), not the cookie's.

CSRF: signed double-submit. A random binding cookie (HttpOnly, same flags) is set on the first
page a browser gets and replaced at every sign-in and sign-out, so it lives exactly as long as
one sign-in; each form and htmx request carries HMAC(server key, binding) as `csrf_token` (form
field) or `X-CSRF-Token` (header). A forger on another site can neither read the cookie nor
compute the token. The token does not involve the session token itself, so rotating the session
at step-up leaves the forms already on the page valid. Requests that the browser labels cross-site
(Sec-Fetch-Site, or an Origin that is not ours) are refused before the token is looked at.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from openpim.kit.errors import Forbidden

SESSION_COOKIE = "openpim_session"
CSRF_COOKIE = "openpim_csrf"
SECURE_PREFIX = "__Host-"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_BINDING_BYTES = 32
_MAX_COOKIE = 200


class CsrfRefused(Forbidden):
    code = "csrf_failed"
    title = "Form expired or forged"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    return SECURE_PREFIX + base if is_https(request) else base


def _read_cookie(request: Request, base: str) -> str | None:
    value = request.cookies.get(cookie_name(request, base))
    if not value or len(value) > _MAX_COOKIE:
        return None
    return value


def session_cookie(request: Request) -> str | None:
    return _read_cookie(request, SESSION_COOKIE)


def _set(request: Request, response: Response, base: str, value: str) -> None:
    response.set_cookie(
        cookie_name(request, base),
        value,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def set_session_cookie(request: Request, response: Response, raw_token: str) -> None:
    _set(request, response, SESSION_COOKIE, raw_token)


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        cookie_name(request, SESSION_COOKIE),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


# --- CSRF -------------------------------------------------------------------------------------


def _key(request: Request) -> bytes:
    runtime = getattr(request.app.state, "runtime", None)
    secret = runtime.settings.secret_key.get_secret_value() if runtime is not None else ""
    return hashlib.sha256(b"openpim-web-csrf|" + secret.encode("utf-8")).digest()


def binding(request: Request) -> str:
    """This browser's CSRF binding value: the cookie's, or a new one set on the way out."""
    pending = getattr(request.state, "csrf_binding", None)
    if isinstance(pending, str):
        return pending
    value = _read_cookie(request, CSRF_COOKIE)
    if value is None:
        value = secrets.token_urlsafe(_BINDING_BYTES)
        request.state.csrf_binding_new = True
    request.state.csrf_binding = value
    return value


def renew_binding(request: Request) -> None:
    """A fresh binding (at sign-in): tokens from before the sign-in stop working."""
    request.state.csrf_binding = secrets.token_urlsafe(_BINDING_BYTES)
    request.state.csrf_binding_new = True


def apply_binding(request: Request, response: Response) -> None:
    """Set the binding cookie when this request created or renewed it."""
    if getattr(request.state, "csrf_binding_new", False):
        _set(request, response, CSRF_COOKIE, request.state.csrf_binding)


def csrf_token(request: Request) -> str:
    message = f"csrf|{binding(request)}".encode()
    return hmac.new(_key(request), message, hashlib.sha256).hexdigest()


def _cross_site(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/") != own


async def _sent_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches it for the route's own Form fields
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def verify_csrf(request: Request) -> None:
    """Dependency of every state-changing portal route (a test walks the routes for it)."""
    if _cross_site(request):
        raise CsrfRefused(
            "This request came from another site and was refused.", code="csrf_cross_site"
        )
    sent = await _sent_token(request)
    cookie = _read_cookie(request, CSRF_COOKIE)
    if not sent or cookie is None:
        raise CsrfRefused(
            "The form has expired or did not come from this site. Reload the page and try again.",
        )
    request.state.csrf_binding = cookie
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfRefused(
            "The form has expired or did not come from this site. Reload the page and try again.",
        )


CsrfProtected = Annotated[None, Depends(verify_csrf)]
