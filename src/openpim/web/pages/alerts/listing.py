"""The list of security alerts, and Scan now (of every alert, or of one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from openpim.alerts import service as alerts
from openpim.alerts.definitions import definition
from openpim.alerts.models import IncidentStatus
from openpim.web.pages.alerts.presentation import (
    Count,
    Done,
    back_to,
    common_context,
    covering_dismissals,
    done_message,
)
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/alerts")
def alerts_list(
    portal: PortalDep,
    done: Done = "",
    n: Count = 0,
    raised: Count = 0,
    resolved: Count = 0,
) -> Response:
    with portal.read() as (ctx, viewer):
        views = alerts.list_alerts(ctx, viewer.directory_id)
        scanned = [v.last_scanned_at for v in views if v.last_scanned_at is not None]
        dismissed = alerts.list_incidents(
            ctx, viewer.directory_id, status=IncidentStatus.DISMISSED, limit=alerts.MAX_PAGE
        )
        context: dict[str, Any] = {
            **common_context(),
            "views": views,
            "covered": covering_dismissals(dismissed),
            "last_scan": max(scanned) if scanned else None,
            "open_count": sum(1 for v in views if v.incident is not None),
        }
        message = done_message(done, n, raised, resolved, 0)
        if message:
            context["message"] = message
        return render(portal.request, "alerts.html", context)


def _scan(portal: Portal, alert_type: str | None) -> tuple[int, int, int]:
    with portal.unit() as (ctx, viewer):
        outcomes = alerts.scan_now(ctx, viewer.directory_id, alert_type)
    raised = sum(1 for o in outcomes if o.change == "raised")
    resolved = sum(1 for o in outcomes if o.change == "resolved")
    return len(outcomes), raised, resolved


@router.post("/alerts/scan")
def scan_all(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    """Scan every enabled alert now (PIM's readers may: it changes nothing in PIM)."""
    n, raised, resolved = _scan(portal, None)
    return back_to(portal, "/alerts", done="scanned", n=n, raised=raised, resolved=resolved)


@router.post("/alerts/{alert_type}/scan")
def scan_one(
    portal: PortalDep,
    _csrf: CsrfProtected,
    alert_type: str,
    back: Annotated[str, Form(pattern="^(list|alert)$")] = "alert",
) -> Response:
    alert = definition(alert_type)
    n, raised, resolved = _scan(portal, alert.type.value)
    path = "/alerts" if back == "list" else f"/alerts/{alert.type.value}"
    return back_to(portal, path, done="scanned", n=n, raised=raised, resolved=resolved)
