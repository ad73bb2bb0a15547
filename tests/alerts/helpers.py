"""Set-ups for alert, review and report tests: memberships made through the real services.

The shared factories write schedules without requests (fast), which the outside-PIM alert
rightly flags; these helpers go through assignments.service so the rows are PIM's own.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select

from openpim.alerts import service as alerts
from openpim.alerts.models import AlertIncident
from openpim.alerts.scanning import ScanOutcome
from openpim.assignments import service as assignments
from openpim.assignments.models import MemberType, RoleRequest
from openpim.audit.models import AuditEvent
from openpim.directory.models import Directory, User
from openpim.notifications.models import OutboxMessage
from tests.factories import GA, PRA, SECURITY_ADMIN, Env


def grant(
    env: Env,
    user: User,
    role_id: uuid.UUID,
    member_type: MemberType = MemberType.ELIGIBLE,
    *,
    end: datetime | None = None,
) -> RoleRequest:
    """A membership made by an admin request (the operator acting), as PIM makes them."""
    with env.ctx() as ctx:
        return assignments.admin_assign(
            ctx,
            directory_id=user.directory_id,
            principal_id=user.id,
            role_id=role_id,
            member_type=member_type,
            end_at=end,
            justification="test set-up",
        )


def pim_setup(env: Env, *, pras: int = 2) -> tuple[Directory, User]:
    """A PIM-enabled directory whose admin holds GA, PRA and Security Administrator through
    PIM requests, plus `pras - 1` more PRAs, so no alert fires by accident."""
    directory = env.directory()
    admin = env.user(directory, "admin", last_sign_in_at=env.now)
    for role in (GA, PRA, SECURITY_ADMIN):
        grant(env, admin, role, MemberType.ACTIVE)
    for n in range(pras - 1):
        grant(env, env.user(directory, f"pra{n}", last_sign_in_at=env.now), PRA, MemberType.ACTIVE)
    with env.runtime.db.unit_of_work() as s:
        row = s.get(Directory, directory.id)
        assert row is not None
        row.pim_enabled_at = env.now
        row.pim_enabled_by_id = admin.id
    return directory, admin


def scan(env: Env, directory: Directory, alert_type: str | None = None) -> list[ScanOutcome]:
    with env.ctx() as ctx:
        return alerts.scan_now(ctx, directory.id, alert_type)


def outcome(env: Env, directory: Directory, alert_type: str) -> ScanOutcome:
    (result,) = scan(env, directory, alert_type)
    return result


def set_thresholds(env: Env, directory: Directory, alert_type: str, **values: int) -> None:
    with env.ctx() as ctx:
        alerts.update_config(ctx, directory.id, alert_type, thresholds=values)


def affected_keys(env: Env, directory: Directory, alert_type: str) -> set[str]:
    """Scan one alert and return the keys of its open incident's items (empty when clear)."""
    result = outcome(env, directory, alert_type)
    if result.incident_id is None or result.change in ("resolved", "clear"):
        return set()
    with env.ctx() as ctx:
        page = alerts.get_incident(ctx, result.incident_id)
    return {item.item_key for item in page.items}


def open_incident_of(env: Env, directory: Directory, alert_type: str) -> AlertIncident | None:
    with env.runtime.db.reader() as s:
        incident = s.execute(
            select(AlertIncident).where(
                AlertIncident.directory_id == directory.id,
                AlertIncident.alert_type == alert_type,
                AlertIncident.status == "open",
            )
        ).scalar_one_or_none()
        s.expunge_all()
        return incident


def audit_actions(env: Env, action: str) -> list[AuditEvent]:
    with env.runtime.db.reader() as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
        s.expunge_all()
        return events


def outbox_count(env: Env, event_type: str) -> int:
    with env.runtime.db.reader() as s:
        return int(
            s.execute(
                select(func.count()).where(OutboxMessage.event_type == event_type)
            ).scalar_one()
        )


def ago(env: Env, **kwargs: float) -> datetime:
    return env.now - timedelta(**kwargs)
