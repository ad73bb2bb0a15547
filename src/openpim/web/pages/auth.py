"""First run (bootstrap), sign-in, sign-out and the directory switcher."""

from __future__ import annotations

import uuid
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Query, Response
from markupsafe import Markup

from openpim.auth import mfa, tokens
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.password_check import check_password
from openpim.auth.sign_in import sign_in
from openpim.directory import service as directory_service
from openpim.kit.errors import DomainError, NotFound, RateLimited, Unauthorized
from openpim.web import forms
from openpim.web.portal import PortalDep
from openpim.web.routing import WebRoute, is_htmx, redirect
from openpim.web.security import (
    CsrfProtected,
    clear_session_cookie,
    renew_binding,
    set_session_cookie,
)
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
OptionalText = Annotated[str, Form(max_length=1024)]


@router.get("/")
def start(portal: PortalDep) -> Response:
    with portal.anonymous_read() as ctx:
        ready = directory_service.is_bootstrapped(ctx)
    if not ready:
        return redirect(portal.request, "/setup")
    return redirect(portal.request, "/dashboard" if portal.token else "/sign-in")


# --- first run --------------------------------------------------------------------------------


def _setup_gone(portal: PortalDep) -> None:
    with portal.anonymous_read() as ctx:
        if directory_service.is_bootstrapped(ctx):
            raise NotFound("OpenPIM is already set up. Sign in instead.", code="already_set_up")


@router.get("/setup")
def setup_form(portal: PortalDep) -> Response:
    _setup_gone(portal)
    return render(portal.request, "setup.html", {"form": {}})


def qr_svg(uri: str) -> Markup:
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=5, dark="#000", light="#fff", svgclass="qr", omitsize=False)
    return Markup(svg)  # noqa: S704 (segno's own SVG of our URI: no user markup inside)


@router.post("/setup")
def setup_submit(
    portal: PortalDep,
    _csrf: CsrfProtected,
    directory_name: Text,
    domain: Text,
    admin_upn: Text,
    admin_display_name: Text,
    password: Text,
    password_confirm: Text,
) -> Response:
    _setup_gone(portal)
    form = {
        "directory_name": directory_name,
        "domain": domain,
        "admin_upn": admin_upn,
        "admin_display_name": admin_display_name,
    }
    if password != password_confirm:
        return render(
            portal.request,
            "setup.html",
            {"form": form, "error": "The two passwords differ.", "error_field": "password_confirm"},
            status_code=422,
        )
    try:
        with portal.anonymous() as ctx:
            _directory, user, secret = directory_service.bootstrap(
                ctx,
                forms.text(directory_name) or "",
                forms.text(domain) or "",
                forms.text(admin_upn) or "",
                forms.text(admin_display_name) or "",
                password,
            )
            upn = user.user_principal_name
    except DomainError as exc:
        return render(
            portal.request,
            "setup.html",
            {"form": form, "error": exc.message, "error_field": exc.field},
            status_code=exc.status,
        )
    uri = mfa.provisioning_uri(secret, upn)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        portal.request,
        "setup_totp.html",
        {"upn": upn, "secret": grouped, "raw_secret": secret, "uri": uri, "qr": qr_svg(uri)},
    )


# --- sign-in ----------------------------------------------------------------------------------


def _refusal_message(error: DomainError) -> str:
    if isinstance(error, RateLimited):
        minutes = max(1, (error.retry_after_seconds + 59) // 60)
        return (
            "Too many failed attempts: this account is locked for now. Try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )
    if error.code == "mfa_required":
        return "Enter the 6-digit code from your authenticator app."
    if error.code == "account_disabled":
        return "This account is disabled. Ask an administrator to enable it."
    return "The user name, password or code is incorrect."


@router.get("/sign-in")
def sign_in_form(
    portal: PortalDep,
    next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    with portal.anonymous_read() as ctx:
        if not directory_service.is_bootstrapped(ctx):
            return redirect(portal.request, "/setup")
    return render(
        portal.request,
        "sign_in.html",
        {"form": {}, "next": forms.safe_next(next_url, "")},
    )


def _end_previous_session(portal: PortalDep) -> None:
    """Signing in replaces the browser's session: the old token is revoked, not left behind."""
    if portal.token is None:
        return
    try:
        with portal.runtime.unit(anonymous_actor(), client_address=portal.client_address) as ctx:
            actor = tokens.authenticate(ctx, portal.token)
            ctx.actor = actor
            tokens.sign_out(ctx)
    except Unauthorized:
        pass  # already ended: nothing to revoke


def sign_in_response(
    portal: PortalDep,
    *,
    upn: str,
    password: str,
    totp_code: str | None,
    directory: str | None,
    next_url: str | None,
    template: str,
    extra: dict[str, object] | None = None,
) -> Response:
    """Check the credentials; on success rotate the session and CSRF binding and go on."""
    request = portal.request
    form = {"upn": upn, "directory": directory or ""}
    directory_id: uuid.UUID | None = None
    with portal.anonymous_read() as ctx:
        chosen = forms.text(directory)
        if chosen is not None:
            try:
                directory_id = uuid.UUID(chosen)
            except ValueError:
                directory_id = directory_service.directory_for_domain(ctx, chosen)
                if directory_id is None:
                    directory_id = uuid.UUID(int=0)  # no such directory: the sign-in fails
        check = check_password(ctx, upn, password, directory_id)
    with portal.anonymous() as ctx:
        outcome = sign_in(ctx, check, forms.text(totp_code))
    if not outcome.ok:
        error = outcome.error
        assert error is not None
        context = {
            "form": form,
            "next": forms.safe_next(next_url, ""),
            "error": _refusal_message(error),
            "need_code": error.code == "mfa_required",
            **(extra or {}),
        }
        return render(request, template, context, status_code=error.status)
    raw, _token = outcome.unwrap()
    _end_previous_session(portal)
    response = redirect(request, forms.safe_next(next_url))
    set_session_cookie(request, response, raw)
    renew_binding(request)
    return response


@router.post("/sign-in")
def sign_in_submit(
    portal: PortalDep,
    _csrf: CsrfProtected,
    upn: Text,
    password: Text,
    totp_code: Annotated[str, Form(max_length=16)] = "",
    directory: Annotated[str, Form(max_length=253)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    return sign_in_response(
        portal,
        upn=upn,
        password=password,
        totp_code=totp_code,
        directory=directory,
        next_url=next_url,
        template="sign_in.html",
    )


@router.post("/setup/confirm")
def setup_confirm(
    portal: PortalDep,
    _csrf: CsrfProtected,
    upn: Text,
    password: Text,
    totp_code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """The first code from the new authenticator, with the password: the first sign-in."""
    template = "setup_confirm_form.html" if is_htmx(portal.request) else "setup_confirm.html"
    return sign_in_response(
        portal,
        upn=upn,
        password=password,
        totp_code=totp_code,
        directory=None,
        next_url="/pim/enable",
        template=template,
        extra={"upn": upn},
    )


@router.post("/sign-out")
def sign_out(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    _end_previous_session(portal)
    response = redirect(portal.request, "/sign-in?msg=signed_out")
    clear_session_cookie(portal.request, response)
    renew_binding(portal.request)
    return response


@router.get("/switch-directory")
def switch_directory(
    portal: PortalDep, directory: Annotated[str, Query(max_length=64)]
) -> Response:
    """Sign in to the same name's account in another directory (its own password and code)."""
    target = forms.parse_id(directory, "directory")
    with portal.read() as (_ctx, viewer):
        names = dict(viewer.directories)
        if target == viewer.directory_id:
            return redirect(portal.request, "/dashboard")
        if target not in names:
            raise NotFound("You have no account in that directory.", code="directory_not_found")
        return render(
            portal.request,
            "sign_in.html",
            {
                "form": {"upn": viewer.upn, "directory": str(target)},
                "switching_to": names[target],
                "next": "/dashboard",
            },
        )
