"""An incident: its page (a past one, or the open one), dismissing it, and fixing the items it
lists."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response

from openpim.alerts import fixes
from openpim.alerts import service as alerts
from openpim.alerts.definitions import definition
from openpim.kit.errors import DomainError, NotFound
from openpim.web import forms
from openpim.web.pages.alerts.detail import alert_page_failure
from openpim.web.pages.alerts.presentation import ITEMS_SHOWN, back_to, common_context, item_view
from openpim.web.portal import PortalDep
from openpim.web.routing import WebRoute
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/alerts/{alert_type}/incidents/{incident_id}/dismiss")
def dismiss(
    portal: PortalDep,
    _csrf: CsrfProtected,
    alert_type: str,
    incident_id: uuid.UUID,
    reason: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    alert = definition(alert_type)
    try:
        with portal.unit() as (ctx, _viewer):
            incident = alerts.dismiss(ctx, incident_id, forms.text(reason) or "")
            back = incident.alert_type
    except DomainError as exc:
        return alert_page_failure(portal, alert, exc, "dismiss", {"reason": reason})
    return back_to(portal, f"/alerts/{back}", done="dismissed")


@router.post("/alerts/{alert_type}/incidents/{incident_id}/fix")
def fix(
    portal: PortalDep,
    _csrf: CsrfProtected,
    alert_type: str,
    incident_id: uuid.UUID,
    action: Annotated[str, Form(max_length=32)],
    items: Annotated[list[str] | None, Form()] = None,
    justification: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    alert = definition(alert_type)
    chosen = [k for k in items or [] if len(k) <= 200]
    form = {"items": set(chosen), "justification": justification}
    try:
        keys = [key for key in (forms.text(k) for k in chosen) if key]
        with portal.unit() as (ctx, _viewer):
            result = fixes.fix(ctx, incident_id, action, keys, forms.text(justification))
            back = result.incident.alert_type
            left = result.rescan.affected
            n = len(result.fixed)
    except DomainError as exc:
        return alert_page_failure(portal, alert, exc, "fix", form)
    return back_to(portal, f"/alerts/{back}", done="fixed", n=n, left=left)


@router.get("/alerts/{alert_type}/incidents/{incident_id}")
def incident_page(
    portal: PortalDep,
    alert_type: str,
    incident_id: uuid.UUID,
    items_from: Annotated[int, Query(alias="from", ge=0, le=alerts.MAX_PAGE * 1000)] = 0,
) -> Response:
    """A past (or the open) incident with the users and roles it listed."""
    with portal.read() as (ctx, _viewer):
        alert = definition(alert_type)
        page = alerts.get_incident(ctx, incident_id, limit=ITEMS_SHOWN, offset=items_from)
        if page.incident.alert_type != alert.type.value:
            raise NotFound("This alert has no such incident.", code="incident_not_found")
        context: dict[str, Any] = {
            **common_context(),
            "alert": alert,
            "incident": page.incident,
            "page": page,
            "affected": [item_view(i) for i in page.items],
            "items_from": items_from,
            "items_shown": ITEMS_SHOWN,
        }
        return render(portal.request, "alert_incident.html", context)
