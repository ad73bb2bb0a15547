"""What the alert pages share: how alerts, incidents and their affected items read, the
message shown after a redirect, and the redirect itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Response

from openpim.alerts import fixes
from openpim.alerts.definitions import FixAction
from openpim.alerts.models import AlertIncident, AlertIncidentItem, IncidentStatus
from openpim.web.portal import Portal
from openpim.web.routing import redirect

# Affected items shown per page of an incident: as many as one fix may name.
ITEMS_SHOWN = fixes.MAX_ITEMS_PER_FIX
HISTORY_SHOWN = 20

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


def back_to(portal: Portal, path: str, **params: Any) -> Response:
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


def item_view(item: AlertIncidentItem) -> dict[str, Any]:
    return {
        "key": item.item_key,
        "user": item.user_label,
        "role": item.role_label,
        "member_type": item.member_type,
        "onset_at": item.onset_at,
        "first_seen_at": item.first_seen_at,
        "facts": item_facts(item.detail or {}),
    }


def covering_dismissals(incidents: list[AlertIncident]) -> dict[str, AlertIncident]:
    """Per alert, the newest dismissal whose condition has not cleared since: its findings are
    still there, accepted, so "no open incident" must not read as "nothing found"."""
    out: dict[str, AlertIncident] = {}
    for incident in incidents:
        if incident.status == IncidentStatus.DISMISSED and incident.resolved_at is None:
            out.setdefault(incident.alert_type, incident)
    return out


def common_context() -> dict[str, Any]:
    return {"status_label": status_label}
