"""Role settings, grouped as the seed system groups them: activation, assignment, notification."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from openpim.directory import service as directory_service
from openpim.kit.errors import DomainError, ValidationFailed
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import get_role_settings, update_role_settings
from openpim.roles.service import get_role
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

MAX_LINES = 100
Checkbox = Annotated[str, Form(max_length=8)]
Lines = Annotated[str, Form(max_length=40_000)]


def _page(
    portal: Portal,
    role_id: uuid.UUID,
    *,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        role = get_role(ctx, viewer.directory_id, role_id)
        settings = get_role_settings(ctx, viewer.directory_id, role_id)
        approvers = []
        if viewer.can_read_all:
            for approver_id in settings.approver_ids:
                try:
                    approvers.append(
                        directory_service.get_user(
                            ctx, viewer.directory_id, approver_id
                        ).user_principal_name
                    )
                except DomainError:
                    approvers.append(str(approver_id))
        return render(
            portal.request,
            "settings.html",
            {
                "role": role,
                "s": settings,
                "approvers": approvers,
                "max_hours": settings.activation_max_duration.total_seconds() / 3600,
                "error": error,
                "error_field": error_field,
                "form": form,
            },
            status_code=status,
        )


@router.get("/roles/{role_id}/settings")
def settings_page(portal: PortalDep, role_id: uuid.UUID) -> Response:
    return _page(portal, role_id)


def _lines(value: str, field: str) -> list[str]:
    lines = [line.strip() for line in (forms.text(value) or "").replace(",", "\n").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"At most {MAX_LINES} entries.", code="too_many", field=field)
    return lines


def _hours(value: str) -> timedelta:
    try:
        hours = float(value)
    except ValueError:
        raise ValidationFailed(
            "Enter the maximum activation duration in hours, e.g. 8 or 0.5.",
            code="invalid_duration",
            field="activation_max_duration",
        ) from None
    return timedelta(minutes=round(hours * 60))


@router.post("/roles/{role_id}/settings")
def settings_submit(
    portal: PortalDep,
    _csrf: CsrfProtected,
    role_id: uuid.UUID,
    activation_max_hours: Annotated[str, Form(max_length=10)],
    eligible_max_days: Annotated[int, Form(ge=0, le=100_000)],
    active_max_days: Annotated[int, Form(ge=0, le=100_000)],
    require_mfa_on_activation: Checkbox = "",
    require_justification_on_activation: Checkbox = "",
    require_ticket_on_activation: Checkbox = "",
    require_approval_on_activation: Checkbox = "",
    approvers: Lines = "",
    notify_default_recipients: Checkbox = "",
    notify_extra_recipients: Lines = "",
    eligible_allow_permanent: Checkbox = "",
    active_allow_permanent: Checkbox = "",
    require_mfa_on_active_assignment: Checkbox = "",
    require_justification_on_active_assignment: Checkbox = "",
) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            role = get_role(ctx, viewer.directory_id, role_id)
            approver_ids = []
            for name in _lines(approvers, "approver_ids"):
                user = forms.named_user(ctx, viewer.directory_id, name, "approver_ids")
                approver_ids.append(user.id)
            values: dict[str, Any] = {
                "activation_max_duration": _hours(activation_max_hours),
                "require_justification_on_activation": bool(require_justification_on_activation),
                "require_ticket_on_activation": bool(require_ticket_on_activation),
                "require_approval_on_activation": bool(require_approval_on_activation),
                "approver_ids": approver_ids,
                "notify_default_recipients": bool(notify_default_recipients),
                "notify_extra_recipients": _lines(
                    notify_extra_recipients, "notify_extra_recipients"
                ),
                "eligible_allow_permanent": bool(eligible_allow_permanent),
                "eligible_max_days": eligible_max_days,
                "active_allow_permanent": bool(active_allow_permanent),
                "active_max_days": active_max_days,
                "require_mfa_on_active_assignment": bool(require_mfa_on_active_assignment),
                "require_justification_on_active_assignment": bool(
                    require_justification_on_active_assignment
                ),
            }
            # A disabled checkbox is not submitted: MFA of a locked role is left as it is.
            if not role.mfa_always_required:
                values["require_mfa_on_activation"] = bool(require_mfa_on_activation)
            update_role_settings(ctx, viewer.directory_id, role_id, RoleSettingsUpdate(**values))
    except DomainError as exc:
        return _page(portal, role_id, error=exc.message, error_field=exc.field, status=exc.status)
    return redirect(portal.request, f"/roles/{role_id}/settings?msg=settings_saved")
