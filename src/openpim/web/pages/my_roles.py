"""My roles: eligible and active roles, activation, deactivation, extend and renew requests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from openpim.assignments import service as membership
from openpim.assignments.models import PENDING_STATUSES, AssignmentType, MemberType
from openpim.assignments.schemas import ScheduleOut
from openpim.audit import query as audit_query
from openpim.kit.context import Ctx
from openpim.kit.errors import DomainError
from openpim.policies.service import get_role_settings
from openpim.policies.settings import DEACTIVATION_GRACE, RoleSettings
from openpim.roles.service import get_role
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep, Viewer, mfa_fresh, step_up
from openpim.web.routing import WebRoute, is_htmx, redirect
from openpim.web.security import CsrfProtected, set_session_cookie
from openpim.web.templating import MESSAGES, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

DURATION_CHOICES = (30, 60, 120, 240, 480, 720, 1440)
EXTEND_WINDOW = timedelta(days=14)
RENEW_WINDOW = timedelta(days=30)
SmallText = Annotated[str, Form(max_length=600)]


def duration_choices(settings: RoleSettings) -> list[int]:
    limit = int(settings.activation_max_duration.total_seconds() // 60)
    choices = [m for m in DURATION_CHOICES if m <= limit]
    if limit not in choices:
        choices.append(limit)
    return choices


def _recently_expired(
    ctx: Ctx, viewer: Viewer, current: set[tuple[uuid.UUID, MemberType]]
) -> list[Any]:
    """Assignments of mine that expired in the last 30 days (they may be renewed)."""
    flt = audit_query.AuditFilter(
        since=ctx.now - RENEW_WINDOW,
        target_user_id=viewer.user_id,
        actions=("eligibility.expired", "assignment.expired"),
    )
    seen: dict[tuple[uuid.UUID, MemberType], Any] = {}
    for event in audit_query.my_events(ctx, flt, limit=100).items:
        kind = MemberType.ELIGIBLE if event.action.startswith("eligibility") else MemberType.ACTIVE
        if event.role_id is None:
            continue
        key = (event.role_id, kind)
        if key in seen or key in current:
            continue
        seen[key] = {
            "role_id": event.role_id,
            "role": event.role_label,
            "member_type": kind,
            "ended_at": event.end_at or event.occurred_at,
        }
    return list(seen.values())


def my_roles_context(ctx: Ctx, viewer: Viewer) -> dict[str, Any]:
    schedules = membership.user_roles(ctx, viewer.directory_id, viewer.user_id)
    eligible = [s for s in schedules if s.member_type == MemberType.ELIGIBLE]
    active = [s for s in schedules if s.member_type == MemberType.ACTIVE]
    pending = membership.list_requests(
        ctx, viewer.directory_id, principal_id=viewer.user_id, status=list(PENDING_STATUSES)
    )
    activated_roles = {s.role_id for s in active if s.assignment_type == AssignmentType.ACTIVATED}
    pending_roles = {(r.role_id, r.member_type) for r in pending}
    rows = []
    for s in eligible:
        rows.append(
            {
                "s": s,
                "active": s.role_id in activated_roles,
                "pending": (s.role_id, MemberType.ACTIVE) in pending_roles,
                "can_extend": s.end_at is not None and s.end_at - ctx.now <= EXTEND_WINDOW,
                "extend_pending": (s.role_id, MemberType.ELIGIBLE) in pending_roles,
            }
        )
    active_rows = []
    for s in active:
        too_soon = (
            s.assignment_type == AssignmentType.ACTIVATED
            and s.start_at <= ctx.now
            and (ctx.now - s.start_at < DEACTIVATION_GRACE)
        )
        active_rows.append(
            {
                "s": s,
                "deactivate_from": s.start_at + DEACTIVATION_GRACE if too_soon else None,
                "can_extend": s.assignment_type == AssignmentType.ASSIGNED
                and s.end_at is not None
                and s.end_at - ctx.now <= EXTEND_WINDOW,
                "extend_pending": (s.role_id, MemberType.ACTIVE) in pending_roles,
            }
        )
    current = {(s.role_id, s.member_type) for s in schedules}
    return {
        "eligible": rows,
        "active": active_rows,
        "pending": pending,
        "expired": _recently_expired(ctx, viewer, current),
        "role_names": {s.role_id: s.role for s in schedules},
    }


def _page(
    portal: Portal,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        context = my_roles_context(ctx, viewer)
        if message:
            context["message"] = message
        context["error"] = error
        return render(portal.request, "my_roles.html", context, status_code=status, headers=headers)


@router.get("/my-roles")
def my_roles(portal: PortalDep) -> Response:
    return _page(portal)


# --- activation -------------------------------------------------------------------------------


def _eligibility(ctx: Ctx, viewer: Viewer, role_id: uuid.UUID) -> ScheduleOut | None:
    rows = membership.user_roles(ctx, viewer.directory_id, viewer.user_id)
    live = [s for s in rows if s.member_type == MemberType.ELIGIBLE and s.role_id == role_id]
    return live[0] if live else None


def _activate_page(
    portal: Portal,
    role_id: uuid.UUID,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        role = get_role(ctx, viewer.directory_id, role_id)
        settings = get_role_settings(ctx, viewer.directory_id, role_id)
        context = {
            "role": role,
            "settings": settings,
            "eligibility": _eligibility(ctx, viewer, role_id),
            "durations": duration_choices(settings),
            "mfa_fresh": mfa_fresh(ctx),
            "mfa_fresh_until": (viewer.mfa_verified_at + ctx.settings.mfa_freshness)
            if viewer.mfa_verified_at
            else None,
            "form": form or {},
            "error": error,
            "error_field": error_field,
        }
        return render(portal.request, "activate.html", context, status_code=status, headers=headers)


@router.get("/my-roles/{role_id}/activate")
def activate_form(portal: PortalDep, role_id: uuid.UUID) -> Response:
    return _activate_page(portal, role_id)


@router.post("/my-roles/{role_id}/activate")
def activate_submit(
    portal: PortalDep,
    _csrf: CsrfProtected,
    role_id: uuid.UUID,
    duration_minutes: Annotated[int, Form(ge=1, le=100_000)],
    start_at: Annotated[str, Form(max_length=40)] = "",
    start_at_offset: Annotated[str, Form(max_length=8)] = "",
    justification: SmallText = "",
    ticket_number: Annotated[str, Form(max_length=200)] = "",
    ticket_system: Annotated[str, Form(max_length=200)] = "",
    totp_code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    form = {
        "duration_minutes": str(duration_minutes),
        "start_at": start_at,
        "justification": justification,
        "ticket_number": ticket_number,
        "ticket_system": ticket_system,
    }
    new_cookie: str | None = None
    code = forms.text(totp_code)
    try:
        start = forms.local_datetime(start_at, start_at_offset, "start_at")
        if code is not None:
            portal, new_cookie, refusal = step_up(portal, code)
            if refusal is not None:
                return _activate_page(
                    portal,
                    role_id,
                    form=form,
                    error=refusal.message,
                    error_field="totp_code",
                    status=refusal.status,
                )
        with portal.unit() as (ctx, viewer):
            request = membership.self_activate(
                ctx,
                directory_id=viewer.directory_id,
                role_id=role_id,
                duration=timedelta(minutes=duration_minutes),
                start_at=start,
                justification=forms.text(justification),
                ticket_number=forms.text(ticket_number),
                ticket_system=forms.text(ticket_system),
            )
            status = request.status
            started = request.start_at is not None and request.start_at <= ctx.now
    except DomainError as exc:
        response = _activate_page(
            portal,
            role_id,
            form=form,
            error=exc.message,
            error_field=exc.field,
            status=exc.status,
        )
        if new_cookie:
            set_session_cookie(portal.request, response, new_cookie)
        return response
    key = "activated" if started else "activation_scheduled"
    if status in PENDING_STATUSES:
        key = "activation_pending"
    response = _after_change(portal, key)
    if new_cookie:
        set_session_cookie(portal.request, response, new_cookie)
    return response


def _after_change(portal: Portal, key: str) -> Response:
    """htmx: the refreshed My roles page at once (address updated); else redirect to it."""
    if is_htmx(portal.request):
        return _page(portal, headers={"HX-Push-Url": "/my-roles"}, message=MESSAGES[key])
    return redirect(portal.request, f"/my-roles?msg={key}")


@router.post("/my-roles/{role_id}/deactivate")
def deactivate(portal: PortalDep, _csrf: CsrfProtected, role_id: uuid.UUID) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            membership.self_deactivate(ctx, directory_id=viewer.directory_id, role_id=role_id)
    except DomainError as exc:
        return _page(portal, exc.status, error=exc.message)
    return _after_change(portal, "deactivated")


@router.post("/my-roles/{role_id}/extend")
def extend(
    portal: PortalDep,
    _csrf: CsrfProtected,
    role_id: uuid.UUID,
    member_type: Annotated[MemberType, Form()],
    justification: SmallText = "",
    kind: Annotated[str, Form(pattern="^(extend|renew)$")] = "extend",
    end_at: Annotated[str, Form(max_length=40)] = "",
    end_at_offset: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    operation = membership.self_extend if kind == "extend" else membership.self_renew
    try:
        end = forms.local_datetime(end_at, end_at_offset, "end_at")
        with portal.unit() as (ctx, viewer):
            operation(
                ctx,
                directory_id=viewer.directory_id,
                role_id=role_id,
                member_type=member_type,
                end_at=end,
                justification=forms.text(justification),
            )
    except DomainError as exc:
        message = exc.message
        if exc.code == "justification_required":
            message = "Say why you need the role for longer: a justification is required."
        return _page(portal, exc.status, error=message)
    return _after_change(portal, "extension_requested")
