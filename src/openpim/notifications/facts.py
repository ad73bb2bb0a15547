"""The facts of an event, gathered once at fan-out: names instead of ids, readable times.

Payloads differ between emitters (an expiry from the worker, a removal by an admin, a decision
on a request), so the facts are re-read from the rows the ids point at, and the payload only
fills in what the rows do not say.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openpim.assignments.models import RoleRequest
from openpim.directory.models import Directory, User
from openpim.kit.clock import ensure_utc
from openpim.roles.models import RoleDefinition

_REASONS = {
    "removed": "an administrator removed it",
    "expired": "it reached its end date",
    "deactivated": "it was deactivated",
    "converted": "it was converted to another membership type",
    "eligibility_ended": "the eligibility it came from ended",
    "user_disabled": "the account was disabled",
    "replaced": "it was replaced",
}
_VERBS = {
    "selfExtend": "extend",
    "selfRenew": "renew",
    "selfActivate": "activate",
    "selfDeactivate": "deactivate",
}
_KINDS = {"eligibility": "eligible", "assignment": "active", "activation": "active"}
_MEMBER_KINDS = {"Eligible": "eligibility", "Active": "assignment"}


def as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return ensure_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""


def _day(value: datetime | None, minus: timedelta = timedelta(0)) -> str:
    return f"{value - minus:%Y-%m-%d}" if value is not None else ""


def span(delta: timedelta) -> str:
    """'14 days', '1 day', '5 hours', '20 minutes': the largest unit, rounded to nearest."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "less than a minute"


def _person(user: User | None, fallback: Any) -> str:
    if user is None:
        return str(fallback) if fallback else "someone"
    if user.display_name and user.display_name != user.user_principal_name:
        return f"{user.display_name} ({user.user_principal_name})"
    return user.user_principal_name


@dataclass
class Facts:
    """The template context of one event, plus the facts table shown in every message."""

    context: dict[str, Any]
    table: list[tuple[str, str]] = field(default_factory=list)
    principal_id: uuid.UUID | None = None
    requester_id: uuid.UUID | None = None
    role_id: uuid.UUID | None = None
    # What the event is about: "eligibility", "assignment" (active) or "activation"; "" unknown.
    kind: str = ""
    # The request's action (selfActivate, selfExtend, adminAssign...), "" when there is none.
    action: str = ""


def gather(
    session: Session,
    *,
    event_type: str,
    payload: dict[str, Any],
    directory_id: uuid.UUID | None,
    occurred_at: datetime,
) -> Facts:
    directory = session.get(Directory, directory_id) if directory_id else None
    request_id = as_uuid(payload.get("request_id"))
    request = session.get(RoleRequest, request_id) if request_id else None
    principal_id = as_uuid(payload.get("principal_id")) or (
        request.principal_id if request else None
    )
    principal = session.get(User, principal_id) if principal_id else None
    role_id = as_uuid(payload.get("role_id")) or (request.role_id if request else None)
    role = session.get(RoleDefinition, role_id) if role_id else None
    requester_id = as_uuid(payload.get("requested_by_id")) or (
        (request.requested_by_id or request.principal_id) if request else principal_id
    )
    decider = (
        session.get(User, request.decided_by_id) if request and request.decided_by_id else None
    )

    start = parse_instant(payload.get("start_at")) or (request.start_at if request else None)
    end = parse_instant(payload.get("end_at")) or (request.end_at if request else None)
    justification = payload.get("justification") or (request.justification if request else None)
    ticket_number = payload.get("ticket_number") or (request.ticket_number if request else None)
    ticket_system = payload.get("ticket_system") or (request.ticket_system if request else None)
    ticket = " ".join(str(p) for p in (ticket_system, ticket_number) if p)
    kind = str(payload.get("kind") or payload.get("member_type") or "")
    kind = {"Eligible": "eligibility", "Active": "assignment"}.get(kind, kind)
    reason_code = str(payload.get("reason") or payload.get("ended_reason") or "")
    action = str(payload.get("action") or payload.get("request_action") or "")
    decision = payload.get("decision") or (request.decision_justification if request else None)
    words = event_type.replace("_", " ").split(".")
    context: dict[str, Any] = {
        "event_type": event_type,
        "event_title": " ".join(words).capitalize(),
        "directory": directory.name if directory else "your directory",
        "directory_id": str(directory_id) if directory_id else "",
        "actor": str(payload.get("actor") or payload.get("enabled_by") or "PIM"),
        "who": _person(principal, payload.get("principal") or payload.get("user_principal_name")),
        "principal_upn": principal.user_principal_name if principal else "",
        "role": role.display_name if role else str(payload.get("role") or "a role"),
        "role_id": str(role_id) if role_id else "",
        "request_id": str(request_id) if request_id else "",
        "request_verb": _VERBS.get(action, action or "change"),
        "member_kind": _KINDS.get(kind, "assigned"),
        "schedule_noun": kind or "assignment",
        "start": when(start),
        "until": when(end),
        "reason": _REASONS.get(reason_code, reason_code or "ended"),
        "decided_by": _person(decider, payload.get("decided_by")),
        "decision": decision or "",
        "justification": justification or "",
        "ticket": ticket,
        "severity": str(payload.get("severity") or ""),
        "alert": str(payload.get("alert") or payload.get("title") or payload.get("name") or ""),
        "remaining": span(end - occurred_at) if end else "",
        "link_path": str(payload.get("link_path") or ""),
        "occurred": when(occurred_at),
        "period_start": _day(parse_instant(payload.get("period_start"))),
        # The period ends at midnight: its last day is the one before.
        "period_end": _day(parse_instant(payload.get("period_end")), minus=timedelta(days=1)),
        "data": payload,
    }
    table = [
        ("Who", context["who"] if principal or payload.get("principal") else ""),
        ("Role", context["role"] if role or payload.get("role") else ""),
        ("Start", context["start"]),
        ("Until", context["until"] or ("permanent" if start and kind else "")),
        ("Justification", context["justification"]),
        ("Ticket", ticket),
        (
            "Requested by",
            _person(session.get(User, requester_id), None)
            if request and requester_id and requester_id != principal_id
            else "",
        ),
        ("Decided by", context["decided_by"] if decider or payload.get("decided_by") else ""),
        ("Decision", context["decision"]),
        ("Reason", context["reason"] if reason_code else ""),
        (
            "By",
            context["actor"]
            if payload.get("actor") not in (None, context["principal_upn"])
            else "",
        ),
        ("Severity", context["severity"]),
        ("Affected", str(payload.get("affected_count") or "")),
        ("When", context["occurred"]),
    ]
    return Facts(
        context=context,
        table=[(label, value) for label, value in table if value],
        principal_id=principal_id,
        requester_id=requester_id,
        role_id=role_id,
        kind=kind or (_MEMBER_KINDS.get(request.member_type, "") if request else ""),
        action=action or (request.action if request else ""),
    )
