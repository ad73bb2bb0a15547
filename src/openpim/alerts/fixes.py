"""One-click fixes: each goes through the membership or settings service, never a table.

A fix names the incident, the action and the affected items (their keys). The alert's detector
runs again first, so only what is affected *now* can be fixed (an item fixed a moment ago by
someone else is refused with a clear 404, not changed twice). All items are fixed in one
transaction: if one is refused (the last Global Administrator, say), none is. The alert is then
re-scanned in the same transaction, so the incident shows the result (or resolves) at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from openpim.alerts.definitions import AlertType, FixAction, definition, effective_thresholds
from openpim.alerts.detectors import DETECTORS, Finding
from openpim.alerts.findings import fill_labels
from openpim.alerts.models import AlertIncident, IncidentStatus
from openpim.alerts.scanning import ScanOutcome, locked_configs, sync_alert
from openpim.alerts.service import REASON_MAX, _incident
from openpim.assignments import service as assignments
from openpim.assignments.models import MemberType
from openpim.audit.writer import AuditEntry, record_many
from openpim.auth.permissions import require_manage
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings

MAX_ITEMS_PER_FIX = 100


@dataclass(frozen=True)
class FixResult:
    incident: AlertIncident
    action: str
    fixed: list[str]
    rescan: ScanOutcome


def _check_keys(item_keys: list[str]) -> list[str]:
    keys = list(dict.fromkeys(k.strip() for k in item_keys if k and k.strip()))
    if not 1 <= len(keys) <= MAX_ITEMS_PER_FIX:
        raise ValidationFailed(
            f"Name 1 to {MAX_ITEMS_PER_FIX} affected items to fix.",
            code="invalid_fix_items",
            field="items",
        )
    return keys


def _apply(
    ctx: Ctx, directory_id: uuid.UUID, action: FixAction, finding: Finding, why: str
) -> None:
    if action == FixAction.REQUIRE_MFA:
        assert finding.role_id is not None
        update_role_settings(
            ctx,
            directory_id,
            finding.role_id,
            RoleSettingsUpdate(require_mfa_on_activation=True),
        )
        return
    if finding.user_id is None or finding.role_id is None or finding.member_type is None:
        raise ValidationFailed(
            f"Item {finding.key} is not a membership that can be changed.",
            code="fix_not_applicable",
            field="items",
        )
    if action == FixAction.MAKE_ELIGIBLE:
        if finding.member_type != MemberType.ACTIVE or not finding.details().get("convertible"):
            raise ValidationFailed(
                f"Item {finding.key} is not an assigned active membership; only those can be "
                "made eligible.",
                code="not_convertible",
                field="items",
            )
        assignments.make_eligible(
            ctx,
            directory_id=directory_id,
            principal_id=finding.user_id,
            role_id=finding.role_id,
            justification=why,
        )
        return
    assignments.admin_remove(
        ctx,
        directory_id=directory_id,
        principal_id=finding.user_id,
        role_id=finding.role_id,
        member_type=MemberType(finding.member_type),
        justification=why,
    )


def fix(
    ctx: Ctx,
    incident_id: uuid.UUID,
    action: str,
    item_keys: list[str],
    justification: str | None = None,
) -> FixResult:
    """Apply one of the alert's fix actions to some of its currently affected items."""
    incident = _incident(ctx, incident_id)
    directory_id = incident.directory_id
    require_manage(ctx, directory_id)
    alert = definition(incident.alert_type)
    # The scan's lock order (configuration row, then incident), so a fix and a scan of the
    # same alert queue behind each other instead of deadlocking.
    (config,) = locked_configs(ctx, directory_id, [AlertType(alert.type)])
    incident = _incident(ctx, incident_id, lock=True)
    try:
        chosen = FixAction(action)
    except ValueError:
        chosen = None
    if chosen is None or chosen not in alert.fixes:
        offered = ", ".join(f.value for f in alert.fixes) or "none"
        raise ValidationFailed(
            f"{action!r} is not a fix for {alert.name!r} (offered: {offered}).",
            code="fix_not_available",
            field="action",
        )
    if incident.status == IncidentStatus.RESOLVED or incident.resolved_at is not None:
        raise Conflict(
            "This incident is resolved; there is nothing to fix.", code="incident_resolved"
        )
    keys = _check_keys(item_keys)
    why = (justification or "").strip() or f"Security alert fix: {alert.name}"
    if len(why) > REASON_MAX:
        raise ValidationFailed(
            f"justification is longer than {REASON_MAX} characters.",
            code="too_long",
            field="justification",
        )
    thresholds = effective_thresholds(alert, config.thresholds)
    found = {f.key: f for f in DETECTORS[alert.type](ctx, directory_id, thresholds)}
    missing = [k for k in keys if k not in found]
    if missing:
        raise NotFound(
            f"Not affected by this alert now (already fixed?): {', '.join(missing[:5])}.",
            code="item_not_affected",
            extra={"items": ",".join(missing[:20])},
        )
    current = {f.key: f for f in fill_labels(ctx, [found[k] for k in keys])}
    for key in keys:
        _apply(ctx, directory_id, chosen, current[key], why)
    record_many(
        ctx,
        [
            AuditEntry(
                action="alert.fixed",
                directory_id=directory_id,
                target_user_id=current[key].user_id,
                target_label=current[key].user_label,
                role_id=current[key].role_id,
                role_label=current[key].role_label,
                schedule_id=current[key].schedule_id,
                justification=why,
                detail={
                    "alert_type": alert.type.value,
                    "incident_id": str(incident.id),
                    "fix": chosen.value,
                    "item_key": key,
                },
            )
            for key in keys
        ],
    )
    rescan = sync_alert(ctx, directory_id, config)
    ctx.session.refresh(incident)
    return FixResult(incident, chosen.value, keys, rescan)
