"""Alert configuration and incidents.

An incident is one occurrence of an alert's condition in a directory: it opens when a scan
first finds affected items, follows them scan after scan, and closes when a scan finds none
(resolved) or an administrator dismisses it. The partial unique index allows one open incident
per alert and directory, so two scans racing each other cannot open two.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class AlertConfig(UUIDPrimaryKey, Base):
    """One row per (directory, alert): switched on or off, its thresholds, when it last ran."""

    __tablename__ = "alert_configs"
    __table_args__ = (UniqueConstraint("directory_id", "alert_type"),)

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    alert_type: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Only the thresholds an administrator changed; the rest take the documented defaults.
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime | None]
    updated_by_label: Mapped[str | None] = mapped_column(String(320))
    last_scanned_at: Mapped[datetime | None]


class IncidentStatus:
    OPEN = "open"
    DISMISSED = "dismissed"
    RESOLVED = "resolved"


class AlertIncident(UUIDPrimaryKey, Base):
    __tablename__ = "alert_incidents"
    __table_args__ = (
        Index(
            "uq_alert_incidents_one_open",
            "directory_id",
            "alert_type",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_alert_incidents_directory_opened", "directory_id", "opened_at"),
    )

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    alert_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # All affected items at the last scan; only the first ITEM_LIMIT are stored as items.
    affected_count: Mapped[int]
    # The thresholds in force when the incident was last updated (evidence for the auditor).
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when a scan finds the condition gone, also on a dismissed incident.
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))
    dismissed_at: Mapped[datetime | None]
    dismissed_by_id: Mapped[uuid.UUID | None]
    dismissed_by_label: Mapped[str | None] = mapped_column(String(320))
    dismiss_reason: Mapped[str | None] = mapped_column(Text)


class AlertIncidentItem(UUIDPrimaryKey, Base):
    """One affected user/role/assignment of an incident (kept in step with the last scan)."""

    __tablename__ = "alert_incident_items"
    __table_args__ = (UniqueConstraint("incident_id", "item_key"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alert_incidents.id", ondelete="CASCADE")
    )
    # Stable identity of the finding ("<user>:<role>:<member type>", an assignment id, ...).
    item_key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None]
    user_label: Mapped[str | None] = mapped_column(String(320))
    role_id: Mapped[uuid.UUID | None]
    role_label: Mapped[str | None] = mapped_column(String(200))
    member_type: Mapped[str | None] = mapped_column(String(16))
    schedule_id: Mapped[uuid.UUID | None]
    # When this finding began, as far as the data tells (see alerts/detectors.py).
    onset_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime]
