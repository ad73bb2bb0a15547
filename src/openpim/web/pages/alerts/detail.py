"""One alert's page: what it means, its configuration, its open incident with the affected
users and roles, and the history of past incidents. The forms on it post to configuration.py
and incidents.py, which show this page again when one fails."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from openpim.alerts import service as alerts
from openpim.alerts.definitions import AlertDefinition
from openpim.alerts.models import IncidentStatus
from openpim.kit.errors import DomainError
from openpim.web.pages.alerts.presentation import (
    FIX_BUTTONS,
    HISTORY_SHOWN,
    ITEMS_SHOWN,
    Count,
    Done,
    common_context,
    covering_dismissals,
    done_message,
    item_view,
)
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _alert_page(
    portal: Portal,
    alert_type: str,
    *,
    items_from: int = 0,
    message: str | None = None,
    error: str | None = None,
    error_field: str | None = None,
    error_for: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    with portal.read() as (ctx, viewer):
        view = alerts.get_alert(ctx, viewer.directory_id, alert_type)
        alert = view.definition
        page = None
        if view.incident is not None:
            page = alerts.get_incident(ctx, view.incident.id, limit=ITEMS_SHOWN, offset=items_from)
        history = [
            i
            for i in alerts.list_incidents(
                ctx, viewer.directory_id, alert_type=alert.type.value, limit=HISTORY_SHOWN + 1
            )
            if i.status != IncidentStatus.OPEN
        ]
        context: dict[str, Any] = {
            **common_context(),
            "view": view,
            "alert": alert,
            "page": page,
            "affected": [item_view(i) for i in page.items] if page else [],
            "items_from": items_from,
            "items_shown": ITEMS_SHOWN,
            "covered": covering_dismissals(history).get(alert.type.value),
            "history": history[:HISTORY_SHOWN],
            "more_history": len(history) > HISTORY_SHOWN,
            "fix_buttons": [(f.value, *FIX_BUTTONS[f]) for f in alert.fixes],
            "error": error,
            "error_field": error_field,
            "error_for": error_for,
            "form": form or {},
        }
        if message:
            context["message"] = message
        return render(portal.request, "alert.html", context, status_code=status)


@router.get("/alerts/{alert_type}")
def alert_page(
    portal: PortalDep,
    alert_type: str,
    items_from: Annotated[int, Query(alias="from", ge=0, le=alerts.MAX_PAGE * 1000)] = 0,
    done: Done = "",
    n: Count = 0,
    raised: Count = 0,
    resolved: Count = 0,
    left: Count = 0,
) -> Response:
    return _alert_page(
        portal,
        alert_type,
        items_from=items_from,
        message=done_message(done, n, raised, resolved, left),
    )


def alert_page_failure(
    portal: Portal, alert: AlertDefinition, exc: DomainError, where: str, form: dict[str, Any]
) -> Response:
    return _alert_page(
        portal,
        alert.type.value,
        error=exc.message,
        error_field=exc.field,
        error_for=where,
        form=form,
        status=exc.status,
    )
