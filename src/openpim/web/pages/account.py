"""My account: who I am, and setting up (or replacing) my authenticator app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response

from openpim.auth.mfa import begin_totp_enrollment, confirm_totp_enrollment
from openpim.kit.errors import DomainError
from openpim.web.pages.auth import qr_svg
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _page(portal: Portal, *, error: str | None = None, status: int = 200) -> Response:
    with portal.read() as (_ctx, _viewer):
        return render(portal.request, "account.html", {"error": error}, status_code=status)


@router.get("/account")
def account(portal: PortalDep) -> Response:
    return _page(portal)


@router.post("/account/mfa/start")
def mfa_start(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            enrollment = begin_totp_enrollment(ctx, viewer.user_id)
    except DomainError as exc:
        return _page(portal, error=exc.message, status=exc.status)
    secret = enrollment.secret
    with portal.read() as (_ctx, _viewer):
        return render(
            portal.request,
            "account_mfa.html",
            {
                "qr": qr_svg(enrollment.otpauth_uri),
                "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
                "raw_secret": secret,
            },
        )


@router.post("/account/mfa/confirm")
def mfa_confirm(
    portal: PortalDep, _csrf: CsrfProtected, code: Annotated[str, Form(max_length=16)]
) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            confirm_totp_enrollment(ctx, viewer.user_id, code)
    except DomainError as exc:
        return _page(portal, error=exc.message, status=exc.status)
    return redirect(portal.request, "/account?msg=mfa_enrolled")
