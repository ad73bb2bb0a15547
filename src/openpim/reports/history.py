"""The two history reports as SQL statements plus row shapes, shared by pages and exports.

- Activation history: one row per activation (an Activated assignment), from the schedule and
  the request behind it: who, which role, requested and actual window, how it ended, the
  justification, ticket and approver.
- Assignment changes: one row per change of membership, from the audit history (added,
  removed, converted, extended, renewed, updated, expired), with who did it, through which
  request, and which access review when a review removed it.

Both are newest first on a unique key, so a page cursor and a streamed export are stable while
new rows arrive.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, or_, select
from sqlalchemy.orm import aliased

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType, RoleRequest
from openpim.audit.models import AuditEvent
from openpim.directory.models import User
from openpim.kit.clock import ensure_utc
from openpim.kit.errors import ValidationFailed
from openpim.roles.models import RoleDefinition

_events = cast(Table, AuditEvent.__table__)

# audit action -> (change, member type). A conversion is one row: the schedule it created
# ("made_permanent" / "made_eligible"); the end of the old schedule ("*.converted") is not
# repeated. An admin renewal is written as "*.added" by a request whose action is adminRenew.
CHANGE_ACTIONS: dict[str, tuple[str, str]] = {
    "eligibility.added": ("added", "Eligible"),
    "assignment.added": ("added", "Active"),
    "assignment.created": ("added", "Active"),  # the bootstrap Global Administrator
    "eligibility.removed": ("removed", "Eligible"),
    "assignment.removed": ("removed", "Active"),
    "assignment.made_permanent": ("converted", "Active"),
    "eligibility.made_eligible": ("converted", "Eligible"),
    "eligibility.extended": ("extended", "Eligible"),
    "assignment.extended": ("extended", "Active"),
    "eligibility.renewed": ("renewed", "Eligible"),
    "assignment.renewed": ("renewed", "Active"),
    "eligibility.updated": ("updated", "Eligible"),
    "assignment.updated": ("updated", "Active"),
    "eligibility.expired": ("expired", "Eligible"),
    "assignment.expired": ("expired", "Active"),
}
REVIEW_REMOVAL = "review.member_removed"


@dataclass(frozen=True)
class ReportFilter:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    role_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} must carry a time zone (e.g. 2026-01-05T09:00:00Z).",
            code="naive_datetime",
            field=field,
        ) from None


def checked(flt: ReportFilter) -> ReportFilter:
    since, until = _aware(flt.since, "since"), _aware(flt.until, "until")
    if since is not None and until is not None and until <= since:
        raise ValidationFailed(
            "until must be later than since.", code="empty_time_range", field="until"
        )
    return ReportFilter(since, until, flt.role_id, flt.user_id)


def iso(value: datetime | None) -> str | None:
    # Values come from UTCDateTime columns, already aware and in UTC.
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds())


# --- activation history -----------------------------------------------------------------------

ACTIVATION_COLUMNS = (
    "activation_id", "user", "user_id", "role", "role_id", "requested_at", "requested_start",
    "requested_end", "requested_seconds", "start_at", "end_at", "actual_seconds", "state",
    "ended_by", "justification", "ticket_number", "ticket_system", "approver", "approved_at",
    "request_id", "request_status",
)  # fmt: skip


ACTIVATION_TEXT = ("user", "role", "justification", "ticket_number", "ticket_system", "approver")


def activation_statement(directory_id: uuid.UUID, flt: ReportFilter) -> Select[Any]:
    a = Assignment
    approver = aliased(User)
    conditions: list[ColumnElement[bool]] = [
        a.directory_id == directory_id,
        of_type(AssignmentType.ACTIVATED),
    ]
    if flt.since is not None:
        conditions.append(a.start_at >= flt.since)
    if flt.until is not None:
        conditions.append(a.start_at < flt.until)
    if flt.role_id is not None:
        conditions.append(a.role_id == flt.role_id)
    if flt.user_id is not None:
        conditions.append(a.principal_id == flt.user_id)
    columns: list[Any] = [
        a.id,
        a.principal_id,
        a.role_id,
        a.start_at,
        a.end_at,
        a.ended_reason,
        a.request_id,
        User.user_principal_name.label("user"),
        RoleDefinition.display_name.label("role"),
        RoleRequest.created_at.label("requested_at"),
        RoleRequest.start_at.label("requested_start"),
        RoleRequest.end_at.label("requested_end"),
        RoleRequest.justification,
        RoleRequest.ticket_number,
        RoleRequest.ticket_system,
        RoleRequest.status,
        RoleRequest.decided_at,
        approver.user_principal_name.label("approver"),
    ]
    return (
        select(*columns)
        .join(User, User.id == a.principal_id)
        .join(RoleDefinition, RoleDefinition.id == a.role_id)
        .outerjoin(RoleRequest, RoleRequest.id == a.request_id)
        .outerjoin(approver, approver.id == RoleRequest.decided_by_id)
        .where(*conditions)
        .order_by(a.start_at.desc(), a.id.desc())
    )


def activation_after(start_at: datetime, row_id: uuid.UUID) -> ColumnElement[bool]:
    """Rows after (older than) the cursor row, in the report's newest-first order."""
    a = Assignment
    return or_(a.start_at < start_at, and_(a.start_at == start_at, a.id < row_id))


def activation_row(row: Any, now: datetime) -> dict[str, Any]:
    ended = row.end_at is not None and row.end_at <= now
    state = "ended" if ended else ("active" if row.start_at <= now else "scheduled")
    ended_by = (row.ended_reason or "expired") if ended else None
    approved = row.approver is not None
    return {
        "activation_id": str(row.id),
        "user": row.user,
        "user_id": str(row.principal_id),
        "role": row.role,
        "role_id": str(row.role_id),
        "requested_at": iso(row.requested_at),
        "requested_start": iso(row.requested_start),
        "requested_end": iso(row.requested_end),
        "requested_seconds": seconds(row.requested_start, row.requested_end),
        "start_at": iso(row.start_at),
        "end_at": iso(row.end_at),
        "actual_seconds": seconds(row.start_at, row.end_at) if ended else None,
        "state": state,
        "ended_by": ended_by,
        "justification": row.justification,
        "ticket_number": row.ticket_number,
        "ticket_system": row.ticket_system,
        "approver": row.approver,
        "approved_at": iso(row.decided_at) if approved else None,
        "request_id": str(row.request_id) if row.request_id else None,
        "request_status": row.status,
    }


# --- assignment changes -----------------------------------------------------------------------

CHANGE_COLUMNS = (
    "seq", "occurred_at", "change", "member_type", "user", "user_id", "role", "role_id", "by",
    "by_id", "request_id", "request_action", "review_id", "schedule_id", "start_at", "end_at",
    "justification", "ticket_number", "ticket_system", "action",
)  # fmt: skip


CHANGE_TEXT = ("user", "role", "by", "justification", "ticket_number", "ticket_system")


def change_statement(directory_id: uuid.UUID, flt: ReportFilter) -> Select[Any]:
    e = _events.c
    review = _events.alias("review_event")
    conditions: list[ColumnElement[bool]] = [
        e.directory_id == directory_id,
        e.action.in_(list(CHANGE_ACTIONS)),
    ]
    if flt.since is not None:
        conditions.append(e.occurred_at >= flt.since)
    if flt.until is not None:
        conditions.append(e.occurred_at < flt.until)
    if flt.role_id is not None:
        conditions.append(e.role_id == flt.role_id)
    if flt.user_id is not None:
        conditions.append(e.target_user_id == flt.user_id)
    return (
        select(
            e.seq,
            e.occurred_at,
            e.action,
            e.actor_label,
            e.actor_id,
            e.target_label,
            e.target_user_id,
            e.role_label,
            e.role_id,
            e.request_id,
            e.schedule_id,
            e.start_at,
            e.end_at,
            e.justification,
            e.ticket_number,
            e.ticket_system,
            RoleRequest.action.label("request_action"),
            review.c.detail.label("review_detail"),
        )
        .select_from(_events)
        .outerjoin(RoleRequest, RoleRequest.id == e.request_id)
        .outerjoin(
            review,
            and_(
                review.c.action == REVIEW_REMOVAL,
                review.c.request_id == e.request_id,
                e.request_id.is_not(None),
            ),
        )
        .where(*conditions)
        .order_by(e.occurred_at.desc(), e.seq.desc())
    )


def change_after(occurred_at: datetime, seq: int) -> ColumnElement[bool]:
    e = _events.c
    return or_(e.occurred_at < occurred_at, and_(e.occurred_at == occurred_at, e.seq < seq))


def _review_id(detail: str | None) -> str | None:
    if not detail:
        return None
    try:
        value = json.loads(detail)
    except ValueError:
        return None
    return value.get("review_id") if isinstance(value, dict) else None


def change_row(row: Any) -> dict[str, Any]:
    change, member_type = CHANGE_ACTIONS[row.action]
    if change == "added" and row.request_action in ("adminRenew", "selfRenew"):
        change = "renewed"
    return {
        "seq": row.seq,
        "occurred_at": iso(row.occurred_at),
        "change": change,
        "member_type": member_type,
        "user": row.target_label,
        "user_id": str(row.target_user_id) if row.target_user_id else None,
        "role": row.role_label,
        "role_id": str(row.role_id) if row.role_id else None,
        "by": row.actor_label,
        "by_id": str(row.actor_id) if row.actor_id else None,
        "request_id": str(row.request_id) if row.request_id else None,
        "request_action": row.request_action,
        "review_id": _review_id(row.review_detail),
        "schedule_id": str(row.schedule_id) if row.schedule_id else None,
        "start_at": iso(row.start_at),
        "end_at": iso(row.end_at),
        "justification": row.justification,
        "ticket_number": row.ticket_number,
        "ticket_system": row.ticket_system,
        "action": row.action,
    }
