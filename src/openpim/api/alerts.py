"""Security alerts: the list with configuration, scan now, incidents, dismissal and fixes.

Readers (PRA, Global Administrator, Security Administrator, Security Reader, Global Reader)
read and scan; only an active Privileged Role Administrator configures, dismisses and fixes.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from openpim.alerts import fixes
from openpim.alerts import service as alerts
from openpim.alerts.schemas import (
    AlertListOut,
    AlertOut,
    ConfigIn,
    DismissIn,
    FixIn,
    FixOut,
    IncidentDetailOut,
    IncidentListOut,
    IncidentOut,
    ScanOut,
    ScanOutcomeOut,
)
from openpim.api.deps import MANAGER, READER, CallerDep, StrictRoute, access
from openpim.api.inputs import Offset
from openpim.api.scope import directory_of

router = APIRouter(tags=["alerts"], route_class=StrictRoute)


@router.get(
    "/alerts",
    summary="Every security alert with its configuration and open incident",
    response_model=AlertListOut,
    openapi_extra=access(READER),
)
def list_alerts(caller: CallerDep) -> AlertListOut:
    with caller.read() as ctx:
        views = alerts.list_alerts(ctx, directory_of(ctx))
        return AlertListOut(value=[AlertOut.of(v) for v in views])


@router.post(
    "/alerts/scan",
    summary="Scan now: run every enabled alert (or one, ?alert_type=) and update incidents",
    response_model=ScanOut,
    openapi_extra=access(READER),
)
def scan_now(caller: CallerDep, alert_type: str | None = None) -> ScanOut:
    with caller.unit() as ctx:
        outcomes = alerts.scan_now(ctx, directory_of(ctx), alert_type)
        return ScanOut(value=[ScanOutcomeOut.of(o) for o in outcomes])


@router.get(
    "/alerts/incidents",
    summary="Incidents, newest first (filter by status and alert)",
    response_model=IncidentListOut,
    openapi_extra=access(READER),
)
def list_incidents(
    caller: CallerDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    alert_type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=alerts.MAX_PAGE)] = 100,
    offset: Offset = 0,
) -> IncidentListOut:
    with caller.read() as ctx:
        rows = alerts.list_incidents(
            ctx, directory_of(ctx), status=status, alert_type=alert_type, limit=limit,
            offset=offset,
        )  # fmt: skip
        return IncidentListOut(value=[IncidentOut.of(i) for i in rows])


@router.get(
    "/alerts/incidents/{incident_id}",
    summary="An incident with (a page of) the affected users and roles",
    response_model=IncidentDetailOut,
    openapi_extra=access(READER),
)
def get_incident(
    caller: CallerDep,
    incident_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=alerts.MAX_PAGE)] = alerts.MAX_PAGE,
    offset: Offset = 0,
) -> IncidentDetailOut:
    with caller.read() as ctx:
        return IncidentDetailOut.of(
            alerts.get_incident(ctx, incident_id, limit=limit, offset=offset)
        )


@router.post(
    "/alerts/incidents/{incident_id}/dismiss",
    summary="Dismiss an open incident with a reason",
    response_model=IncidentOut,
    openapi_extra=access(MANAGER),
)
def dismiss(caller: CallerDep, incident_id: uuid.UUID, body: DismissIn) -> IncidentOut:
    with caller.unit() as ctx:
        return IncidentOut.of(alerts.dismiss(ctx, incident_id, body.reason))


@router.post(
    "/alerts/incidents/{incident_id}/fix",
    summary="Apply a fix action (require_mfa, remove_assignment, make_eligible) to items",
    response_model=FixOut,
    openapi_extra=access(MANAGER),
)
def fix(caller: CallerDep, incident_id: uuid.UUID, body: FixIn) -> FixOut:
    with caller.unit() as ctx:
        result = fixes.fix(ctx, incident_id, body.action, body.items, body.justification)
        return FixOut.of(result)


@router.get(
    "/alerts/{alert_type}",
    summary="One alert with its configuration and open incident",
    response_model=AlertOut,
    openapi_extra=access(READER),
)
def get_alert(caller: CallerDep, alert_type: str) -> AlertOut:
    with caller.read() as ctx:
        return AlertOut.of(alerts.get_alert(ctx, directory_of(ctx), alert_type))


@router.patch(
    "/alerts/{alert_type}",
    summary="Switch an alert on or off and change its thresholds (bounds are enforced)",
    response_model=AlertOut,
    openapi_extra=access(MANAGER),
)
def configure(caller: CallerDep, alert_type: str, body: ConfigIn) -> AlertOut:
    with caller.unit() as ctx:
        view = alerts.update_config(
            ctx, directory_of(ctx), alert_type, enabled=body.enabled, thresholds=body.thresholds
        )
        return AlertOut.of(view)
