"""Enabling PIM for the directory, and the security wizard."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Response

from openpim.access.service import is_active
from openpim.assignments import service as membership
from openpim.directory.models import AccountKind
from openpim.kit.errors import DomainError, ValidationFailed
from openpim.roles import ids
from openpim.web.portal import PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# Permanent members listed per role: enough for the first clean-up, and a page stays readable
# when a role has thousands (the rest are on the role's own page).
WIZARD_SHOWN = 50


def _why_not(viewer_kind: str, is_ga: bool) -> list[str]:
    reasons = []
    if viewer_kind != AccountKind.ORGANIZATIONAL:
        reasons.append(
            "You are signed in with an external (personal) account. PIM can only be enabled with "
            "an organizational account on one of the directory's verified domains."
        )
    if not is_ga:
        reasons.append(
            "You are not an active Global Administrator of this directory. Ask a Global "
            "Administrator to enable PIM, or activate your Global Administrator role first."
        )
    return reasons


@router.get("/pim/enable")
def enable_page(portal: PortalDep) -> Response:
    with portal.read() as (ctx, viewer):
        if viewer.pim_enabled:
            return redirect(portal.request, "/dashboard")
        is_ga = is_active(ctx.session, viewer.user_id, ids.GLOBAL_ADMINISTRATOR, ctx.now)
        reasons = _why_not(viewer.account_kind, is_ga)
    return render(portal.request, "pim_enable.html", {"reasons": reasons})


@router.post("/pim/enable")
def enable_submit(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            membership.enable_pim(ctx, viewer.directory_id)
    except DomainError as exc:
        return render(
            portal.request, "pim_enable.html", {"reasons": [exc.message]}, status_code=exc.status
        )
    return redirect(portal.request, "/pim/wizard?msg=pim_enabled")


def _wizard(portal: PortalDep, error: str | None = None, status: int = 200) -> Response:
    with portal.read() as (ctx, viewer):
        roles = membership.wizard_overview(ctx, viewer.directory_id)
        pras = next((r for r in roles if r.role_id == ids.PRIVILEGED_ROLE_ADMINISTRATOR), None)
        pra_count = (pras.permanent_count + pras.eligible_count) if pras else 0
        return render(
            portal.request,
            "wizard.html",
            {"roles": roles, "error": error, "pra_count": pra_count, "shown": WIZARD_SHOWN},
            status_code=status,
        )


@router.get("/pim/wizard")
def wizard_page(portal: PortalDep) -> Response:
    return _wizard(portal)


def _pairs(values: list[str]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    out = []
    for value in values:
        user, _, role = value.partition(":")
        try:
            out.append((uuid.UUID(user), uuid.UUID(role)))
        except ValueError:
            raise ValidationFailed(
                "A selected member is not valid.", code="invalid_member"
            ) from None
    return out


@router.post("/pim/wizard")
def wizard_submit(
    portal: PortalDep,
    _csrf: CsrfProtected,
    member: Annotated[list[str], Form(max_length=1000)] = [],  # noqa: B006 (FastAPI form default)
    close: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    pairs = [] if close else _pairs(member)
    if not pairs and not close:
        return _wizard(portal, "Select at least one permanent administrator to convert.", 422)
    try:
        with portal.unit() as (ctx, viewer):
            membership.wizard_convert(ctx, viewer.directory_id, pairs)
    except DomainError as exc:
        return _wizard(portal, exc.message, exc.status)
    return redirect(
        portal.request, "/dashboard?msg=" + ("wizard_closed" if close else "wizard_done")
    )
