"""Requests -> schedules, modelled on Microsoft Graph's roleManagement resources.

A schedule is active at instant t when start_at <= t < end_at (no end_at = permanent). Ending a
schedule early moves end_at to the moment it ended and records why; nothing is deleted, so the
history of who held what stays answerable from the tables as well as from the audit.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class RequestAction(enum.StrEnum):
    ADMIN_ASSIGN = "adminAssign"
    ADMIN_UPDATE = "adminUpdate"
    ADMIN_REMOVE = "adminRemove"
    ADMIN_EXTEND = "adminExtend"
    ADMIN_RENEW = "adminRenew"
    SELF_ACTIVATE = "selfActivate"
    SELF_DEACTIVATE = "selfDeactivate"
    SELF_EXTEND = "selfExtend"
    SELF_RENEW = "selfRenew"


class RequestStatus(enum.StrEnum):
    PENDING_APPROVAL = "PendingApproval"
    PENDING_ADMIN_DECISION = "PendingAdminDecision"
    GRANTED = "Granted"
    PROVISIONED = "Provisioned"
    REVOKED = "Revoked"
    DENIED = "Denied"
    CANCELED = "Canceled"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"


PENDING_STATUSES = (RequestStatus.PENDING_APPROVAL, RequestStatus.PENDING_ADMIN_DECISION)


class MemberType(enum.StrEnum):
    ELIGIBLE = "Eligible"
    ACTIVE = "Active"


class AssignmentType(enum.StrEnum):
    ASSIGNED = "Assigned"
    ACTIVATED = "Activated"


class EndReason(enum.StrEnum):
    EXPIRED = "expired"
    REMOVED = "removed"
    DEACTIVATED = "deactivated"
    CONVERTED = "converted"
    ELIGIBILITY_ENDED = "eligibility_ended"
    USER_DISABLED = "user_disabled"
    REPLACED = "replaced"


class RoleRequest(UUIDPrimaryKey, Base):
    __tablename__ = "role_requests"
    __table_args__ = (
        # One open request per member, role and membership type: a second identical ask is a 409.
        Index(
            "uq_role_requests_one_pending",
            "principal_id",
            "role_id",
            "member_type",
            unique=True,
            sqlite_where=text("status IN ('PendingApproval', 'PendingAdminDecision')"),
            postgresql_where=text("status IN ('PendingApproval', 'PendingAdminDecision')"),
        ),
        Index("ix_role_requests_directory_status", "directory_id", "status", "created_at"),
        Index("ix_role_requests_principal", "principal_id", "created_at"),
    )

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    action: Mapped[str] = mapped_column(String(32))
    member_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("role_definitions.id"))
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    requested_by_label: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(32))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    justification: Mapped[str | None] = mapped_column(Text)
    ticket_number: Mapped[str | None] = mapped_column(String(200))
    ticket_system: Mapped[str | None] = mapped_column(String(200))
    # The schedule this request changes (update, remove, extend, renew, deactivate) ...
    target_schedule_id: Mapped[uuid.UUID | None]
    # ... or the schedule it created (assign, activate, make permanent/eligible).
    result_schedule_id: Mapped[uuid.UUID | None]
    # For activations: the eligibility the activation draws on.
    eligibility_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    approval_deadline: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decision_justification: Mapped[str | None] = mapped_column(Text)
    mfa_verified: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)


class _ScheduleColumns:
    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("role_definitions.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime | None]
    # The request that made this schedule; NULL means PIM did not make it (bootstrap, import).
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("role_requests.id"))
    created_via: Mapped[str] = mapped_column(String(32), default="pim")
    created_at: Mapped[datetime]
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    ended_by_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("role_requests.id"))
    # Set once the end of this schedule has been recorded in the audit (by the operation
    # that ended it, or by the worker at natural expiry). NULL with end_at set = end pending.
    end_recorded_at: Mapped[datetime | None]


class Eligibility(UUIDPrimaryKey, _ScheduleColumns, Base):
    __tablename__ = "eligibilities"
    __table_args__ = (
        Index("ix_eligibilities_principal_role", "principal_id", "role_id", "start_at"),
        # Covers member counts per role: principals in order within a role, so SQLite counts
        # distinct members without a temporary tree (most eligibilities are live: no end_at
        # range to narrow, unlike assignments).
        Index(
            "ix_eligibilities_role", "directory_id", "role_id", "principal_id", "start_at", "end_at"
        ),
        # Who became or stopped being eligible after an instant (statistics count members at
        # now from the members at the end of a closed day).
        Index("ix_eligibilities_start", "directory_id", "start_at", "role_id", "end_at"),
        Index("ix_eligibilities_end", "directory_id", "end_at", "role_id", "start_at"),
        Index(
            "ix_eligibilities_end_pending",
            "end_at",
            sqlite_where=text("end_recorded_at IS NULL AND end_at IS NOT NULL"),
            postgresql_where=text("end_recorded_at IS NULL AND end_at IS NOT NULL"),
        ),
    )


class Assignment(UUIDPrimaryKey, _ScheduleColumns, Base):
    __tablename__ = "assignments"
    __table_args__ = (
        # Covers the access check (principal, window, role): answered from the index alone.
        Index("ix_assignments_principal", "principal_id", "start_at", "end_at", "role_id"),
        # end_at third: a role's members that have not ended, without reading its history;
        # the rest lets member counts per role read the index alone.
        Index(
            "ix_assignments_role",
            "directory_id",
            "role_id",
            "end_at",
            "start_at",
            "principal_id",
            "assignment_type",
        ),
        Index("ix_assignments_eligibility", "eligibility_id"),
        # Activation history and alert scans read activations by time, and assigned
        # (permanent or time-bound) members by role. Role, principal and end make the
        # activations' index covering for the per-role statistics
        # (reports/statistics/activations.py).
        Index(
            "ix_assignments_activated_time",
            "directory_id",
            "start_at",
            "role_id",
            "principal_id",
            "end_at",
            sqlite_where=text("assignment_type = 'Activated'"),
            postgresql_where=text("assignment_type = 'Activated'"),
        ),
        Index(
            "ix_assignments_assigned_role",
            "directory_id",
            "role_id",
            sqlite_where=text("assignment_type = 'Assigned'"),
            postgresql_where=text("assignment_type = 'Assigned'"),
        ),
        Index(
            "ix_assignments_end_pending",
            "end_at",
            sqlite_where=text("end_recorded_at IS NULL AND end_at IS NOT NULL"),
            postgresql_where=text("end_recorded_at IS NULL AND end_at IS NOT NULL"),
        ),
    )

    assignment_type: Mapped[str] = mapped_column(String(16))
    eligibility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("eligibilities.id"))
