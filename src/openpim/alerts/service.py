"""The alerts service: overview, configuration, scans (on demand and scheduled), incidents.

Reading needs a PIM reader role (PRA, Global Administrator, Security Administrator, Security
Reader, Global Reader); changing configuration, dismissing and fixing need an active PRA.
"Scan now" is open to readers: it changes nothing in PIM, it recomputes what they are shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from openpim.alerts.definitions import (
    DEFINITIONS,
    AlertDefinition,
    AlertType,
    definition,
    effective_thresholds,
    validate_thresholds,
)
from openpim.alerts.models import AlertConfig, AlertIncident, AlertIncidentItem, IncidentStatus
from openpim.alerts.scanning import (
    ScanOutcome,
    ensure_configs,
    locked_configs,
    open_incident,
    resolve,
    scan_configs,
)
from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage, require_read_all
from openpim.directory.models import Directory
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed
from openpim.kit.pagination import require_page
from openpim.runtime import Runtime

DEFAULT_SCAN_INTERVAL = timedelta(minutes=15)
REASON_MAX = 500
MAX_PAGE = 500
SCANNER = Actor.system("system:alert-scanner")


@dataclass(frozen=True)
class AlertView:
    definition: AlertDefinition
    enabled: bool
    thresholds: dict[str, int]
    last_scanned_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None
    incident: AlertIncident | None


@dataclass(frozen=True)
class IncidentPage:
    incident: AlertIncident
    items: list[AlertIncidentItem]
    total_items: int


@dataclass
class ScanSummary:
    directories: int = 0
    outcomes: list[ScanOutcome] = field(default_factory=list)

    @property
    def raised(self) -> int:
        return sum(1 for o in self.outcomes if o.change == "raised")

    @property
    def resolved(self) -> int:
        return sum(1 for o in self.outcomes if o.change == "resolved")


def _load_directory(ctx: Ctx, directory_id: uuid.UUID) -> Directory:
    directory = ctx.session.get(Directory, directory_id)
    if directory is None:
        raise NotFound("No such directory.", code="directory_not_found")
    return directory


# --- reading ----------------------------------------------------------------------------------


def list_alerts(ctx: Ctx, directory_id: uuid.UUID) -> list[AlertView]:
    """Every alert with its configuration and open incident: the alerts page and dashboard."""
    require_read_all(ctx, directory_id)
    _load_directory(ctx, directory_id)
    configs = {
        c.alert_type: c
        for c in ctx.session.scalars(
            select(AlertConfig).where(AlertConfig.directory_id == directory_id)
        )
    }
    open_by_type = {
        i.alert_type: i
        for i in ctx.session.scalars(
            select(AlertIncident).where(
                AlertIncident.directory_id == directory_id,
                AlertIncident.status == IncidentStatus.OPEN,
            )
        )
    }
    out = []
    for alert in DEFINITIONS.values():
        config = configs.get(alert.type.value)
        out.append(
            AlertView(
                definition=alert,
                enabled=config.enabled if config else True,
                thresholds=effective_thresholds(alert, config.thresholds if config else None),
                last_scanned_at=config.last_scanned_at if config else None,
                updated_at=config.updated_at if config else None,
                updated_by=config.updated_by_label if config else None,
                incident=open_by_type.get(alert.type.value),
            )
        )
    return out


def get_alert(ctx: Ctx, directory_id: uuid.UUID, alert_type: str) -> AlertView:
    wanted = definition(alert_type).type
    return next(v for v in list_alerts(ctx, directory_id) if v.definition.type == wanted)


def list_incidents(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    status: str | None = None,
    alert_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AlertIncident]:
    """Incidents newest first, optionally only one status or one alert."""
    require_read_all(ctx, directory_id)
    require_page(limit, MAX_PAGE, offset=offset, code="invalid_page")
    stmt = select(AlertIncident).where(AlertIncident.directory_id == directory_id)
    if status is not None:
        if status not in (IncidentStatus.OPEN, IncidentStatus.DISMISSED, IncidentStatus.RESOLVED):
            raise ValidationFailed(
                "status must be open, dismissed or resolved.", code="invalid_status", field="status"
            )
        stmt = stmt.where(AlertIncident.status == status)
    if alert_type is not None:
        stmt = stmt.where(AlertIncident.alert_type == definition(alert_type).type.value)
    stmt = stmt.order_by(AlertIncident.opened_at.desc(), AlertIncident.id).limit(limit)
    return list(ctx.session.scalars(stmt.offset(offset)))


def _incident(ctx: Ctx, incident_id: uuid.UUID, *, lock: bool = False) -> AlertIncident:
    stmt = select(AlertIncident).where(AlertIncident.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    incident = ctx.session.execute(stmt).scalar_one_or_none()
    if incident is None:
        raise NotFound("No such alert incident.", code="incident_not_found")
    return incident


def get_incident(
    ctx: Ctx, incident_id: uuid.UUID, *, limit: int = MAX_PAGE, offset: int = 0
) -> IncidentPage:
    """An incident and (a page of) its affected users and roles."""
    incident = _incident(ctx, incident_id)
    require_read_all(ctx, incident.directory_id)
    require_page(limit, MAX_PAGE, offset=offset, code="invalid_page")
    base = select(AlertIncidentItem).where(AlertIncidentItem.incident_id == incident.id)
    total = ctx.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    items = ctx.session.scalars(
        base.order_by(
            AlertIncidentItem.user_label, AlertIncidentItem.role_label, AlertIncidentItem.item_key
        )
        .limit(limit)
        .offset(offset)
    )
    return IncidentPage(incident, list(items), int(total))


# --- configuration ----------------------------------------------------------------------------


def update_config(
    ctx: Ctx,
    directory_id: uuid.UUID,
    alert_type: str,
    *,
    enabled: bool | None = None,
    thresholds: dict[str, Any] | None = None,
) -> AlertView:
    """Switch an alert on or off and/or change thresholds (each checked against its bounds)."""
    require_manage(ctx, directory_id)
    _load_directory(ctx, directory_id)
    alert = definition(alert_type)
    values = validate_thresholds(alert, thresholds or {})
    (config,) = locked_configs(ctx, directory_id, [alert.type])
    before = effective_thresholds(alert, config.thresholds)
    after = {**before, **values}
    changes: dict[str, Any] = {
        name: {"old": before[name], "new": after[name]}
        for name in sorted(after)
        if before[name] != after[name]
    }
    if enabled is not None and enabled != config.enabled:
        changes["enabled"] = {"old": config.enabled, "new": enabled}
    if not changes:
        return get_alert(ctx, directory_id, alert_type)
    config.thresholds = {
        name: value for name, value in after.items() if value != alert.defaults[name]
    }
    if enabled is not None:
        config.enabled = enabled
    config.updated_at = ctx.now
    config.updated_by_label = ctx.actor.label
    # Thresholds changed: the next scheduled pass re-evaluates at once.
    config.last_scanned_at = None
    ctx.session.flush()
    record(
        ctx,
        AuditEntry(
            action="alert.config_updated",
            directory_id=directory_id,
            detail={"alert_type": alert.type.value, "changes": changes},
        ),
    )
    if enabled is False:
        current = open_incident(ctx, directory_id, alert.type.value)
        if current is not None:
            resolve(ctx, current, "alert_disabled")
    return get_alert(ctx, directory_id, alert_type)


# --- scanning ---------------------------------------------------------------------------------


def scan_now(ctx: Ctx, directory_id: uuid.UUID, alert_type: str | None = None) -> list[ScanOutcome]:
    """Run every enabled alert (or one) for the directory now, in the caller's transaction."""
    require_read_all(ctx, directory_id)
    _load_directory(ctx, directory_id)
    types = [definition(alert_type).type] if alert_type else None
    return scan_configs(ctx, directory_id, locked_configs(ctx, directory_id, types))


def _due_directories(runtime: Runtime, instant: datetime, interval: timedelta) -> list[uuid.UUID]:
    """PIM-enabled directories with an alert never scanned, or not scanned for `interval`."""
    stale = instant - interval
    due_configs = (
        select(func.count())
        .where(
            AlertConfig.directory_id == Directory.id,
            AlertConfig.enabled.is_(True),
            or_(AlertConfig.last_scanned_at.is_(None), AlertConfig.last_scanned_at <= stale),
        )
        .scalar_subquery()
    )
    configured = (
        select(func.count()).where(AlertConfig.directory_id == Directory.id).scalar_subquery()
    )
    with runtime.read(SCANNER) as ctx:
        rows = ctx.session.execute(
            select(Directory.id)
            .where(
                Directory.pim_enabled_at.is_not(None),
                or_(due_configs > 0, configured < len(AlertType)),
            )
            .order_by(Directory.id)
        ).scalars()
        return list(rows)


def scan_due(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    interval: timedelta = DEFAULT_SCAN_INTERVAL,
) -> ScanSummary:
    """The worker's scheduled scan: every due alert of every PIM-enabled directory.

    One transaction per directory. A directory being scanned by another worker is skipped
    (SKIP LOCKED on its configuration rows) rather than waited for.
    """
    instant = now or runtime.clock.now()
    summary = ScanSummary()
    stale = instant - interval
    for directory_id in _due_directories(runtime, instant, interval):
        with runtime.unit(SCANNER) as unit_ctx:
            # One instant for the whole pass, as the worker's other jobs do.
            ctx = replace(unit_ctx, clock=FrozenClock(instant))
            ensure_configs(ctx, directory_id)
            configs = list(
                ctx.session.scalars(
                    select(AlertConfig)
                    .where(
                        AlertConfig.directory_id == directory_id,
                        AlertConfig.enabled.is_(True),
                        or_(
                            AlertConfig.last_scanned_at.is_(None),
                            AlertConfig.last_scanned_at <= stale,
                        ),
                    )
                    .order_by(AlertConfig.alert_type)
                    .with_for_update(skip_locked=True)
                )
            )
            if configs:
                summary.directories += 1
                summary.outcomes += scan_configs(ctx, directory_id, configs)
    return summary


# --- dismissal --------------------------------------------------------------------------------


def dismiss(ctx: Ctx, incident_id: uuid.UUID, reason: str) -> AlertIncident:
    """Dismiss an open incident with a reason. The first of two racing dismissals wins."""
    incident = _incident(ctx, incident_id)
    require_manage(ctx, incident.directory_id)
    text = (reason or "").strip()
    if not text or len(text) > REASON_MAX:
        raise ValidationFailed(
            f"A dismissal needs a reason of 1 to {REASON_MAX} characters.",
            code="reason_required",
            field="reason",
        )
    result = ctx.session.execute(
        update(AlertIncident)
        .where(AlertIncident.id == incident.id, AlertIncident.status == IncidentStatus.OPEN)
        .values(
            status=IncidentStatus.DISMISSED,
            dismissed_at=ctx.now,
            dismissed_by_id=ctx.actor.user_id,
            dismissed_by_label=ctx.actor.label,
            dismiss_reason=text,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        ctx.session.refresh(incident)
        raise Conflict(
            f"Only an open incident can be dismissed; this one is {incident.status}.",
            code="incident_not_open",
        )
    ctx.session.refresh(incident)
    record(
        ctx,
        AuditEntry(
            action="alert.dismissed",
            directory_id=incident.directory_id,
            justification=text,
            detail={
                "alert_type": incident.alert_type,
                "incident_id": str(incident.id),
                "affected_count": incident.affected_count,
            },
        ),
    )
    return incident
