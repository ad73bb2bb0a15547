"""API shapes of alerts and incidents. Bounds are checked in the service (definitions.py), so the
API, the CLI and the portal refuse the same values with the same error."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from openpim.alerts.fixes import FixResult
from openpim.alerts.models import AlertIncident, AlertIncidentItem
from openpim.alerts.scanning import ScanOutcome
from openpim.alerts.service import AlertView, IncidentPage


class ThresholdOut(BaseModel):
    name: str
    value: int
    minimum: int
    maximum: int
    default: int
    description: str


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    alert_type: str
    severity: str
    status: str
    opened_at: datetime
    last_seen_at: datetime
    affected_count: int
    thresholds: dict[str, Any]
    resolved_at: datetime | None
    resolution: str | None
    dismissed_at: datetime | None
    dismissed_by: str | None = Field(validation_alias="dismissed_by_label")
    dismiss_reason: str | None

    @classmethod
    def of(cls, incident: AlertIncident) -> IncidentOut:
        return cls.model_validate(incident)


class AlertOut(BaseModel):
    type: str
    name: str
    severity: str
    description: str
    trigger: str
    enabled: bool
    thresholds: list[ThresholdOut]
    fixes: list[str]
    last_scanned_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None
    incident: IncidentOut | None

    @classmethod
    def of(cls, view: AlertView) -> AlertOut:
        d = view.definition
        return cls(
            type=d.type.value,
            name=d.name,
            severity=d.severity.value,
            description=d.description,
            trigger=d.trigger,
            enabled=view.enabled,
            thresholds=[
                ThresholdOut(
                    name=t.name,
                    value=view.thresholds[t.name],
                    minimum=t.minimum,
                    maximum=t.maximum,
                    default=t.default,
                    description=t.description,
                )
                for t in d.thresholds
            ],
            fixes=[f.value for f in d.fixes],
            last_scanned_at=view.last_scanned_at,
            updated_at=view.updated_at,
            updated_by=view.updated_by,
            incident=IncidentOut.of(view.incident) if view.incident else None,
        )


class AlertListOut(BaseModel):
    value: list[AlertOut]


class IncidentListOut(BaseModel):
    value: list[IncidentOut]


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str = Field(validation_alias="item_key")
    user_id: uuid.UUID | None
    user: str | None = Field(validation_alias="user_label")
    role_id: uuid.UUID | None
    role: str | None = Field(validation_alias="role_label")
    member_type: str | None
    schedule_id: uuid.UUID | None
    onset_at: datetime | None
    first_seen_at: datetime
    detail: dict[str, Any]

    @classmethod
    def of(cls, item: AlertIncidentItem) -> ItemOut:
        return cls.model_validate(item)


class IncidentDetailOut(BaseModel):
    incident: IncidentOut
    items: list[ItemOut]
    # Items stored for this incident (at most 1000; affected_count has them all).
    total_items: int

    @classmethod
    def of(cls, page: IncidentPage) -> IncidentDetailOut:
        return cls(
            incident=IncidentOut.of(page.incident),
            items=[ItemOut.of(i) for i in page.items],
            total_items=page.total_items,
        )


class ScanOutcomeOut(BaseModel):
    alert_type: str
    affected: int
    change: str
    incident_id: uuid.UUID | None

    @classmethod
    def of(cls, outcome: ScanOutcome) -> ScanOutcomeOut:
        return cls(
            alert_type=outcome.alert_type,
            affected=outcome.affected,
            change=outcome.change,
            incident_id=outcome.incident_id,
        )


class ScanOut(BaseModel):
    value: list[ScanOutcomeOut]


class ConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    thresholds: dict[str, StrictInt] | None = None


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=500)


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(description="require_mfa, remove_assignment or make_eligible")
    items: list[str] = Field(description="Keys of affected items", max_length=100)
    justification: str | None = Field(default=None, max_length=500)


class FixOut(BaseModel):
    incident: IncidentOut
    action: str
    fixed: list[str]
    rescan: ScanOutcomeOut

    @classmethod
    def of(cls, result: FixResult) -> FixOut:
        return cls(
            incident=IncidentOut.of(result.incident),
            action=result.action,
            fixed=result.fixed,
            rescan=ScanOutcomeOut.of(result.rescan),
        )
