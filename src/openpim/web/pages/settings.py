"""Role settings, grouped as the seed system groups them: activation, assignment, notification.

The Notification group is Entra's Notification tab: three sections (assigned as eligible,
assigned as active, activation), each a small table of its three rules (admins, the member,
the approvers) with default recipients, additional recipients and which emails go out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from openpim.directory import service as directory_service
from openpim.kit.errors import DomainError, ValidationFailed
from openpim.policies.notification_rules import (
    DEFAULT_RECIPIENTS,
    RULE_KEYS,
    RULE_TITLES,
    STAGE_TITLES,
    Level,
    NotificationRules,
    RuleKey,
    Stage,
)
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
MAX_TEXT = 40_000
Lines = Annotated[str, Form(max_length=MAX_TEXT)]
LEVEL_CHOICES = (
    (Level.ALL, "All emails"),
    (Level.CRITICAL, "Critical emails only"),
    (Level.NONE, "No emails"),
)


# --- the notification tables ------------------------------------------------------------------


def _prefix(key: RuleKey) -> str:
    """The form names of a rule: {prefix}-default, {prefix}-extra, {prefix}-level."""
    return f"n-{key[0].value}-{key[1].value}"


def _rule_field(key: RuleKey, name: str) -> str:
    """The service's field name for a rule's field (errors name it)."""
    return f"notification_rules.{key[0].value}.{key[1].value}.{name}"


@dataclass(frozen=True)
class RuleRow:
    prefix: str
    field: str
    title: str
    who: str
    default: bool
    extra: str
    level: str


@dataclass(frozen=True)
class RuleSection:
    stage: str
    title: str
    rows: list[RuleRow]


def _sections(values: dict[RuleKey, tuple[bool, str, str]]) -> list[RuleSection]:
    return [
        RuleSection(
            stage=stage.value,
            title=STAGE_TITLES[stage],
            rows=[
                RuleRow(
                    prefix=_prefix(key),
                    field=f"notification_rules.{stage.value}.{key[1].value}",
                    title=RULE_TITLES[key],
                    who=DEFAULT_RECIPIENTS[key],
                    default=values[key][0],
                    extra=values[key][1],
                    level=values[key][2],
                )
                for key in RULE_KEYS
                if key[0] == stage
            ],
        )
        for stage in Stage
    ]


def _stored_sections(rules: NotificationRules, show_addresses: bool) -> list[RuleSection]:
    return _sections(
        {
            key: (
                rule.default_recipients,
                "\n".join(rule.extra_recipients) if show_addresses else "",
                rule.level.value,
            )
            for key, rule in rules.items()
        }
    )


_RULE_INPUTS = tuple(
    f"{_prefix(key)}-{part}" for key in RULE_KEYS for part in ("default", "extra", "level")
)


async def _rule_inputs(request: Request) -> dict[str, str]:
    """The notification tables' 27 inputs (Starlette parsed and cached the form already)."""
    form = await request.form()
    return {name: v for name in _RULE_INPUTS if isinstance(v := form.get(name), str)}


RuleInputs = Annotated[dict[str, str], Depends(_rule_inputs)]


def _submitted_sections(inputs: dict[str, str], current: NotificationRules) -> list[RuleSection]:
    """What the form said, to show it again next to an error instead of losing it."""
    return _sections(
        {
            key: (
                bool(inputs.get(f"{_prefix(key)}-default")),
                inputs.get(f"{_prefix(key)}-extra", ""),
                inputs.get(f"{_prefix(key)}-level", rule.level.value),
            )
            for key, rule in current.items()
        }
    )


def _rule_changes(inputs: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    """The form's notification tables as a notification_rules change. An unticked checkbox is
    not sent, so it means off; a missing select or textarea leaves its value as it is."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for key in RULE_KEYS:
        prefix = _prefix(key)
        change: dict[str, Any] = {"default_recipients": bool(inputs.get(f"{prefix}-default"))}
        if f"{prefix}-extra" in inputs:
            field = _rule_field(key, "extra_recipients")
            text = inputs[f"{prefix}-extra"]
            if len(text) > MAX_TEXT:
                raise ValidationFailed("Too much text.", code="too_long", field=field)
            change["extra_recipients"] = _lines(text, field)
        if f"{prefix}-level" in inputs:
            change["level"] = inputs[f"{prefix}-level"]
        out.setdefault(key[0].value, {})[key[1].value] = change
    return out


# --- the page ---------------------------------------------------------------------------------


def _page(
    portal: Portal,
    role_id: uuid.UUID,
    *,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
    rule_inputs: dict[str, str] | None = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        role = get_role(ctx, viewer.directory_id, role_id)
        settings = get_role_settings(ctx, viewer.directory_id, role_id)
        if rule_inputs is not None:
            sections = _submitted_sections(rule_inputs, settings.notification_rules)
        else:
            # Addresses, like approvers, are for PIM's readers.
            sections = _stored_sections(settings.notification_rules, viewer.can_read_all)
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
                "sections": sections,
                "level_choices": LEVEL_CHOICES,
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
    rule_inputs: RuleInputs,
    role_id: uuid.UUID,
    activation_max_hours: Annotated[str, Form(max_length=10)],
    eligible_max_days: Annotated[int, Form(ge=0, le=100_000)],
    active_max_days: Annotated[int, Form(ge=0, le=100_000)],
    require_mfa_on_activation: Checkbox = "",
    require_justification_on_activation: Checkbox = "",
    require_ticket_on_activation: Checkbox = "",
    require_approval_on_activation: Checkbox = "",
    approvers: Lines = "",
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
                "notification_rules": _rule_changes(rule_inputs),
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
            update = RoleSettingsUpdate.model_validate(values)
            update_role_settings(ctx, viewer.directory_id, role_id, update)
    except DomainError as exc:
        return _page(
            portal,
            role_id,
            error=exc.message,
            error_field=exc.field,
            status=exc.status,
            rule_inputs=rule_inputs,
        )
    return redirect(portal.request, f"/roles/{role_id}/settings?msg=settings_saved")
