"""Security alerts: the list with Scan now, and each alert's page (what it means, its
configuration, its open incident with the affected users and roles, dismissal, fix actions and
the history of past incidents).

Authorisation is the service's (alerts/service.py, alerts/fixes.py): PIM's readers read and
scan; only an active Privileged Role Administrator is shown, and may use, configuration,
dismissal and fixes. The page only hides what the viewer may not do; the service refuses it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from starlette.datastructures import FormData

from openpim.alerts import fixes
from openpim.alerts import service as alerts
from openpim.alerts.definitions import AlertDefinition, FixAction, definition
from openpim.alerts.models import AlertIncident, AlertIncidentItem, IncidentStatus
from openpim.kit.errors import DomainError, NotFound
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# Affected items shown per page of an incident: as many as one fix may name.
ITEMS_SHOWN = fixes.MAX_ITEMS_PER_FIX
HISTORY_SHOWN = 20
RAW_THRESHOLD_MAX = 32

# Each fix: (what it does, its button, the button's style).
FIX_BUTTONS: dict[FixAction, tuple[str, str, str]] = {
    FixAction.REQUIRE_MFA: (
        "require MFA on activation of the role",
        "Require MFA on activation of the selected roles",
        "primary",
    ),
    FixAction.MAKE_ELIGIBLE: (
        "convert the permanent assignment to eligible",
        "Make the selected assignments eligible",
        "secondary",
    ),
    FixAction.REMOVE_ASSIGNMENT: (
        "remove the assignment",
        "Remove the selected assignments",
        "danger",
    ),
}
RESOLUTIONS = {
    "condition_cleared": "condition cleared",
    "alert_disabled": "alert switched off",
}
# Detail keys that are bookkeeping for the service, not evidence for the reader.
HIDDEN_DETAIL = frozenset({"convertible"})
# Messages after a redirect: fixed texts, filled only with whole numbers from the query.
Count = Annotated[int, Query(ge=0, le=10_000_000)]
Done = Annotated[str, Query(max_length=16, pattern="^[a-z_]*$")]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def done_message(done: str, n: int, raised: int, resolved: int, left: int) -> str | None:
    if done == "scanned":
        if n == 0:
            return "Nothing was scanned: this alert is switched off."
        return (
            f"Scanned {_plural(n, 'alert')}: {_plural(raised, 'new incident')}, "
            f"{resolved} resolved."
        )
    if done == "configured":
        return "The alert's configuration is saved."
    if done == "dismissed":
        return "The incident is dismissed."
    if done == "fixed":
        fixed = f"Fixed {_plural(n, 'item')}."
        if left == 0:
            return f"{fixed} The incident is resolved."
        return f"{fixed} {left} still affected."
    return None


def _back(portal: Portal, path: str, **params: Any) -> Response:
    return redirect(portal.request, f"{path}?{urlencode(params)}")


def item_facts(detail: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """An item's evidence as (label, value, is a time) for the page; times become datetimes,
    shown through the local-time filter."""
    out: list[tuple[str, Any, bool]] = []
    for key, value in detail.items():
        if key in HIDDEN_DETAIL or value is None or value == "":
            continue
        shown: Any = value
        if isinstance(value, str) and key.endswith(("_at", "_since")):
            try:
                shown = datetime.fromisoformat(value)
            except ValueError:
                shown = value
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "none"
        label = key.replace("_", " ").capitalize()
        out.append((label, shown, isinstance(shown, datetime)))
    return out


def status_label(incident: AlertIncident) -> str:
    if incident.status == IncidentStatus.OPEN:
        return "Open"
    if incident.status == IncidentStatus.DISMISSED:
        if incident.resolved_at is not None:
            return "Dismissed, condition since cleared"
        return "Dismissed"
    reason = RESOLUTIONS.get(incident.resolution or "", incident.resolution or "")
    return f"Resolved ({reason})" if reason else "Resolved"


def _items_of(item: AlertIncidentItem) -> dict[str, Any]:
    return {
        "key": item.item_key,
        "user": item.user_label,
        "role": item.role_label,
        "member_type": item.member_type,
        "onset_at": item.onset_at,
        "first_seen_at": item.first_seen_at,
        "facts": item_facts(item.detail or {}),
    }


def _covering(incidents: list[AlertIncident]) -> dict[str, AlertIncident]:
    """Per alert, the newest dismissal whose condition has not cleared since: its findings are
    still there, accepted, so "no open incident" must not read as "nothing found"."""
    out: dict[str, AlertIncident] = {}
    for incident in incidents:
        if incident.status == IncidentStatus.DISMISSED and incident.resolved_at is None:
            out.setdefault(incident.alert_type, incident)
    return out


def _common() -> dict[str, Any]:
    return {"status_label": status_label}


# --- the list -----------------------------------------------------------------------------------


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
            **_common(),
            "views": views,
            "covered": _covering(dismissed),
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
    return _back(portal, "/alerts", done="scanned", n=n, raised=raised, resolved=resolved)


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
    return _back(portal, path, done="scanned", n=n, raised=raised, resolved=resolved)


# --- one alert ----------------------------------------------------------------------------------


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
            **_common(),
            "view": view,
            "alert": alert,
            "page": page,
            "affected": [_items_of(i) for i in page.items] if page else [],
            "items_from": items_from,
            "items_shown": ITEMS_SHOWN,
            "covered": _covering(history).get(alert.type.value),
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


async def submitted(request: Request) -> FormData:
    """The posted form as a whole (Starlette caches it): the thresholds differ per alert."""
    return await request.form()


Submitted = Annotated[FormData, Depends(submitted)]
WHOLE = re.compile(r"[+-]?\d{1,18}")


def _threshold(raw: object) -> int | str:
    """A whole number when the text is one; anything else goes to the service as text, so its
    own message ("must be a whole number") is the one shown."""
    text = (raw if isinstance(raw, str) else "").strip()[:RAW_THRESHOLD_MAX]
    return int(text) if WHOLE.fullmatch(text) else text


@router.post("/alerts/{alert_type}/config")
def configure(
    portal: PortalDep,
    _csrf: CsrfProtected,
    alert_type: str,
    posted: Submitted,
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    alert = definition(alert_type)
    raw = {t.name: posted.get(f"t_{t.name}") for t in alert.thresholds}
    form = {
        "enabled": bool(enabled),
        "thresholds": {k: v if isinstance(v, str) else "" for k, v in raw.items()},
    }
    try:
        with portal.unit() as (ctx, viewer):
            alerts.update_config(
                ctx,
                viewer.directory_id,
                alert.type.value,
                enabled=bool(enabled),
                thresholds={name: _threshold(value) for name, value in raw.items()},
            )
    except DomainError as exc:
        return _failed(portal, alert, exc, "config", form)
    return _back(portal, f"/alerts/{alert.type.value}", done="configured")


def _failed(
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
        return _failed(portal, alert, exc, "dismiss", {"reason": reason})
    return _back(portal, f"/alerts/{back}", done="dismissed")


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
        return _failed(portal, alert, exc, "fix", form)
    return _back(portal, f"/alerts/{back}", done="fixed", n=n, left=left)


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
            **_common(),
            "alert": alert,
            "incident": page.incident,
            "page": page,
            "affected": [_items_of(i) for i in page.items],
            "items_from": items_from,
            "items_shown": ITEMS_SHOWN,
        }
        return render(portal.request, "alert_incident.html", context)
