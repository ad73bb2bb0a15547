"""Running the detectors and keeping incidents in step with what they find.

For each alert that is switched on, a scan:
- opens an incident when there are findings and none is open (audited; a high-severity one
  also puts "alert.raised" in the outbox), unless a dismissal still covers every finding;
- updates the open incident's affected items when there are findings and one is open;
- resolves the open incident (and marks dismissed ones resolved) when there are none.

A dismissal covers the findings listed when it was given, as they were then: a finding with a
new key, or whose onset is later than the dismissal (a new activation, MFA switched off again),
opens a new incident. Keys are compared, not only times, because an intruder who writes rows
straight into the tables also chooses their timestamps.

Concurrency: the scan locks the directory's alert configuration rows (FOR UPDATE; SQLite write
units are serial anyway), so two workers never scan one directory's alert at once; the partial
unique index on open incidents is the last line of defence.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from openpim.alerts.definitions import (
    DEFINITIONS,
    AlertDefinition,
    AlertType,
    Severity,
    effective_thresholds,
)
from openpim.alerts.detectors import DETECTORS, Finding
from openpim.alerts.findings import fill_labels, gc_paused
from openpim.alerts.models import AlertConfig, AlertIncident, AlertIncidentItem, IncidentStatus
from openpim.audit.writer import AuditEntry, record
from openpim.kit.context import Ctx
from openpim.notifications.outbox import enqueue

# Affected items stored per incident; affected_count always holds the full number.
ITEM_LIMIT = 1000


@dataclass(frozen=True)
class ScanOutcome:
    alert_type: str
    affected: int
    # "raised", "updated", "resolved", "covered_by_dismissal" or "clear"
    change: str
    incident_id: uuid.UUID | None


# --- configuration rows -----------------------------------------------------------------------


def ensure_configs(ctx: Ctx, directory_id: uuid.UUID) -> None:
    """Give the directory one configuration row per alert (defaults), without racing."""
    rows: list[dict[str, Any]] = [
        {"id": uuid.uuid4(), "directory_id": directory_id, "alert_type": t.value,
         "enabled": True, "thresholds": {}}
        for t in AlertType
    ]  # fmt: skip
    table = cast(Table, AlertConfig.__table__)
    dialect = ctx.session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(table).values(rows).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(table).values(rows).on_conflict_do_nothing()
    existing = ctx.session.execute(
        select(AlertConfig.alert_type).where(AlertConfig.directory_id == directory_id)
    ).scalars()
    if len(set(existing)) < len(AlertType):
        ctx.session.execute(stmt)


def locked_configs(
    ctx: Ctx, directory_id: uuid.UUID, types: Iterable[AlertType] | None = None
) -> list[AlertConfig]:
    ensure_configs(ctx, directory_id)
    stmt = select(AlertConfig).where(AlertConfig.directory_id == directory_id)
    if types is not None:
        stmt = stmt.where(AlertConfig.alert_type.in_([t.value for t in types]))
    return list(ctx.session.scalars(stmt.order_by(AlertConfig.alert_type).with_for_update()))


# --- incidents ----------------------------------------------------------------------------------


def open_incident(
    ctx: Ctx, directory_id: uuid.UUID, alert_type: str, *, lock: bool = True
) -> AlertIncident | None:
    stmt = select(AlertIncident).where(
        AlertIncident.directory_id == directory_id,
        AlertIncident.alert_type == alert_type,
        AlertIncident.status == IncidentStatus.OPEN,
    )
    if lock:
        stmt = stmt.with_for_update()
    return ctx.session.execute(stmt).scalar_one_or_none()


def _dismissed_unresolved(
    ctx: Ctx, directory_id: uuid.UUID, alert_type: str
) -> list[AlertIncident]:
    return list(
        ctx.session.scalars(
            select(AlertIncident)
            .where(
                AlertIncident.directory_id == directory_id,
                AlertIncident.alert_type == alert_type,
                AlertIncident.status == IncidentStatus.DISMISSED,
                AlertIncident.resolved_at.is_(None),
            )
            .order_by(AlertIncident.dismissed_at.desc())
        )
    )


def _stored(finding: Finding) -> dict[str, Any]:
    return {
        "user_id": finding.user_id,
        "user_label": finding.user_label,
        "role_id": finding.role_id,
        "role_label": finding.role_label,
        "member_type": finding.member_type,
        "schedule_id": finding.schedule_id,
        "onset_at": finding.onset_at,
        "detail": finding.details(),
    }


def _listed(findings: Sequence[Finding]) -> list[Finding]:
    """The findings stored as items: newest onset first, then by key (stable order)."""
    ordered = sorted(findings, key=lambda f: f.key)
    ordered.sort(key=lambda f: f.onset_at.timestamp() if f.onset_at else 0.0, reverse=True)
    return ordered[:ITEM_LIMIT]


def _sync_items(ctx: Ctx, incident: AlertIncident, findings: Sequence[Finding]) -> None:
    wanted = {f.key: f for f in fill_labels(ctx, _listed(findings))}
    existing = {
        item.item_key: item
        for item in ctx.session.scalars(
            select(AlertIncidentItem).where(AlertIncidentItem.incident_id == incident.id)
        )
    }
    gone = [item.id for key, item in existing.items() if key not in wanted]
    if gone:
        ctx.session.execute(delete(AlertIncidentItem).where(AlertIncidentItem.id.in_(gone)))
    for key, finding in wanted.items():
        item = existing.get(key)
        if item is None:
            continue
        for name, value in _stored(finding).items():
            if getattr(item, name) != value:
                setattr(item, name, value)
    new = [
        {"id": uuid.uuid4(), "incident_id": incident.id, "item_key": key,
         "first_seen_at": ctx.now, **_stored(finding)}
        for key, finding in wanted.items()
        if key not in existing
    ]  # fmt: skip
    if new:
        ctx.session.execute(insert(cast(Table, AlertIncidentItem.__table__)), new)


def _covered(ctx: Ctx, dismissed: AlertIncident, findings: Sequence[Finding]) -> bool:
    """Whether the dismissal still covers every current finding (see the module docstring)."""
    assert dismissed.dismissed_at is not None
    keys = set(
        ctx.session.scalars(
            select(AlertIncidentItem.item_key).where(AlertIncidentItem.incident_id == dismissed.id)
        )
    )
    truncated = dismissed.affected_count > len(keys)
    for finding in findings:
        if finding.key not in keys and not truncated:
            return False
        if finding.onset_at is None:
            if finding.key not in keys:
                return False
        elif finding.onset_at > dismissed.dismissed_at:
            return False
    return True


def _audit_incident(ctx: Ctx, action: str, incident: AlertIncident, **detail: Any) -> None:
    record(
        ctx,
        AuditEntry(
            action=action,
            directory_id=incident.directory_id,
            detail={
                "alert_type": incident.alert_type,
                "incident_id": str(incident.id),
                "severity": incident.severity,
                "affected_count": incident.affected_count,
                **detail,
            },
        ),
    )


def _raise(
    ctx: Ctx,
    directory_id: uuid.UUID,
    alert: AlertDefinition,
    findings: Sequence[Finding],
    thresholds: dict[str, int],
) -> AlertIncident:
    incident = AlertIncident(
        id=uuid.uuid4(),
        directory_id=directory_id,
        alert_type=alert.type.value,
        severity=alert.severity.value,
        status=IncidentStatus.OPEN,
        opened_at=ctx.now,
        last_seen_at=ctx.now,
        affected_count=len(findings),
        thresholds=thresholds,
    )
    ctx.session.add(incident)
    ctx.session.flush()
    _sync_items(ctx, incident, findings)
    _audit_incident(ctx, "alert.raised", incident)
    if alert.severity == Severity.HIGH:
        sample = fill_labels(ctx, _listed(findings)[:20])
        enqueue(
            ctx,
            "alert.raised",
            {
                "incident_id": incident.id,
                "alert_type": alert.type.value,
                "alert": alert.name,
                "severity": alert.severity.value,
                "affected_count": len(findings),
                "affected": [
                    {"user": f.user_label, "role": f.role_label, "key": f.key} for f in sample
                ],
            },
            directory_id=directory_id,
        )
    return incident


def resolve(ctx: Ctx, incident: AlertIncident, resolution: str) -> None:
    incident.resolved_at = ctx.now
    incident.resolution = resolution
    if incident.status == IncidentStatus.OPEN:
        incident.status = IncidentStatus.RESOLVED
        _audit_incident(ctx, "alert.resolved", incident, resolution=resolution)


def sync_alert(ctx: Ctx, directory_id: uuid.UUID, config: AlertConfig) -> ScanOutcome:
    """Run one alert's detector and bring its incidents in line with the findings."""
    alert = DEFINITIONS[AlertType(config.alert_type)]
    thresholds = effective_thresholds(alert, config.thresholds)
    with gc_paused():
        findings = DETECTORS[alert.type](ctx, directory_id, thresholds)
    config.last_scanned_at = ctx.now
    current = open_incident(ctx, directory_id, alert.type.value)
    if not findings:
        resolved_any = current is not None
        if current is not None:
            resolve(ctx, current, "condition_cleared")
        for dismissed in _dismissed_unresolved(ctx, directory_id, alert.type.value):
            resolve(ctx, dismissed, "condition_cleared")
        change = "resolved" if resolved_any else "clear"
        return ScanOutcome(alert.type.value, 0, change, current.id if current else None)
    if current is not None:
        current.last_seen_at = ctx.now
        current.affected_count = len(findings)
        current.thresholds = thresholds
        _sync_items(ctx, current, findings)
        return ScanOutcome(alert.type.value, len(findings), "updated", current.id)
    dismissed_list = _dismissed_unresolved(ctx, directory_id, alert.type.value)
    if dismissed_list and _covered(ctx, dismissed_list[0], findings):
        latest = dismissed_list[0]
        latest.last_seen_at = ctx.now
        return ScanOutcome(alert.type.value, len(findings), "covered_by_dismissal", latest.id)
    incident = _raise(ctx, directory_id, alert, findings, thresholds)
    return ScanOutcome(alert.type.value, len(findings), "raised", incident.id)


def tune_for_scan(ctx: Ctx) -> None:
    """PostgreSQL: let this transaction's aggregates over the schedule tables (hundreds of
    thousands of rows at scale) hash in memory instead of sorting on disk, and skip JIT
    compilation, which costs more than it saves on these one-off statements."""
    if ctx.session.get_bind().dialect.name == "postgresql":
        ctx.session.execute(text("SET LOCAL work_mem = '64MB'"))
        ctx.session.execute(text("SET LOCAL jit = off"))


def scan_configs(
    ctx: Ctx, directory_id: uuid.UUID, configs: Iterable[AlertConfig]
) -> list[ScanOutcome]:
    enabled = [c for c in configs if c.enabled]
    if enabled:
        tune_for_scan(ctx)
    return [sync_alert(ctx, directory_id, c) for c in enabled]


def latest_scan(configs: Iterable[AlertConfig]) -> datetime | None:
    times = [c.last_scanned_at for c in configs if c.last_scanned_at is not None]
    return max(times) if times else None
