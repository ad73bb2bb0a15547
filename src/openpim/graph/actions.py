"""POSTed schedule requests, translated into calls of the membership service.

The body is Graph's unifiedRole{Assignment,Eligibility}ScheduleRequest. Each `action` maps onto
one function of openpim.assignments.service; every rule (who may, bounds, MFA, justification,
ticket, overlap, approval) is decided there. This module only turns Graph's scheduleInfo into a
start and an end (or an activation duration) and checks the body's shape.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openpim.assignments import service as membership
from openpim.assignments.models import MemberType, RoleRequest
from openpim.graph.errors import GraphError, bad_request
from openpim.graph.shapes import TENANT_SCOPE
from openpim.graph.values import parse_datetime, parse_duration, parse_guid
from openpim.kit.context import Ctx
from openpim.policies.service import get_role_settings

TOTP_HEADER = "X-OpenPIM-TOTP"
ADMIN_ACTIONS = ("adminAssign", "adminUpdate", "adminRemove", "adminExtend", "adminRenew")
SELF_ACTIONS = ("selfActivate", "selfDeactivate", "selfExtend", "selfRenew")
Kind = Literal["assignment", "eligibility"]


class _Graph(BaseModel):
    # Unknown properties are refused; read-only ones a client may echo back are accepted.
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    odata_type: str | None = Field(default=None, alias="@odata.type")


class TicketInfoIn(_Graph):
    ticket_number: str | None = Field(default=None, alias="ticketNumber", max_length=200)
    ticket_system: str | None = Field(default=None, alias="ticketSystem", max_length=200)


class ExpirationIn(_Graph):
    type: Literal["notSpecified", "noExpiration", "afterDateTime", "afterDuration"] | None = None
    end_date_time: str | None = Field(default=None, alias="endDateTime", max_length=64)
    duration: str | None = Field(default=None, max_length=64)


class ScheduleIn(_Graph):
    start_date_time: str | None = Field(default=None, alias="startDateTime", max_length=64)
    expiration: ExpirationIn | None = None
    recurrence: None = None


class ScheduleRequestIn(_Graph):
    action: str
    principal_id: str = Field(alias="principalId", max_length=64)
    role_definition_id: str = Field(alias="roleDefinitionId", max_length=64)
    directory_scope_id: str | None = Field(default=None, alias="directoryScopeId", max_length=64)
    app_scope_id: None = Field(default=None, alias="appScopeId")
    justification: str | None = Field(default=None, max_length=500)
    schedule_info: ScheduleIn | None = Field(default=None, alias="scheduleInfo")
    ticket_info: TicketInfoIn | None = Field(default=None, alias="ticketInfo")
    is_validation_only: bool | None = Field(default=None, alias="isValidationOnly")
    target_schedule_id: str | None = Field(default=None, alias="targetScheduleId", max_length=64)
    # Read-only properties of the resource: tolerated so a fetched request can be re-posted.
    id: str | None = None
    status: str | None = None
    created_date_time: str | None = Field(default=None, alias="createdDateTime")
    completed_date_time: str | None = Field(default=None, alias="completedDateTime")
    approval_id: str | None = Field(default=None, alias="approvalId")
    custom_data: str | None = Field(default=None, alias="customData")
    created_by: dict[str, Any] | None = Field(default=None, alias="createdBy")


def parse_body(body: Any, kind: Kind) -> ScheduleRequestIn:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        parsed = ScheduleRequestIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise bad_request(f"The request body is not valid: {where}: {first.get('msg')}.") from None
    expected = (
        "unifiedRoleAssignmentScheduleRequest"
        if kind == "assignment"
        else ("unifiedRoleEligibilityScheduleRequest")
    )
    if (
        parsed.odata_type is not None
        and parsed.odata_type.lstrip("#") != f"microsoft.graph.{expected}"
    ):
        raise bad_request(f"@odata.type must be #microsoft.graph.{expected} here.")
    if parsed.directory_scope_id not in (None, TENANT_SCOPE):
        raise bad_request('Only the tenant-wide scope directoryScopeId "/" is supported.')
    if parsed.action not in ADMIN_ACTIONS + SELF_ACTIONS:
        raise bad_request(
            f"action {parsed.action!r} is not one of {', '.join(ADMIN_ACTIONS + SELF_ACTIONS)}."
        )
    return parsed


class Window:
    """scheduleInfo as a start (None = now) and an end (None = no expiration)."""

    def __init__(self, body: ScheduleRequestIn, now: datetime) -> None:
        info = body.schedule_info
        self.start = (
            parse_datetime(info.start_date_time, field="scheduleInfo.startDateTime")
            if info is not None and info.start_date_time is not None
            else None
        )
        expiration = info.expiration if info is not None else None
        self.type = (expiration.type if expiration else None) or "notSpecified"
        self.end: datetime | None = None
        self.duration: timedelta | None = None
        if self.type == "afterDateTime":
            if expiration is None or expiration.end_date_time is None:
                raise bad_request("expiration type afterDateTime needs endDateTime.")
            self.end = parse_datetime(
                expiration.end_date_time, field="scheduleInfo.expiration.endDateTime"
            )
        elif self.type == "afterDuration":
            if expiration is None or expiration.duration is None:
                raise bad_request("expiration type afterDuration needs duration.")
            self.duration = parse_duration(
                expiration.duration, field="scheduleInfo.expiration.duration"
            )
            self.end = (self.start or now) + self.duration
        elif expiration is not None and (expiration.end_date_time or expiration.duration):
            raise bad_request(
                f"expiration type {self.type} takes no endDateTime or duration; "
                "use afterDateTime or afterDuration."
            )

    def activation_duration(
        self, ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID
    ) -> timedelta:
        if self.duration is not None:
            return self.duration
        if self.end is not None:
            return self.end - max(self.start or ctx.now, ctx.now)
        if self.type == "noExpiration":
            raise GraphError(
                400,
                "RoleAssignmentRequestPolicyValidationFailed",
                'The following policy rules failed: ["ExpirationRule"]. An activation must '
                "end: give expiration type afterDuration or afterDateTime.",
                openpim_code="duration_out_of_bounds",
            )
        # Not specified: as long as the role's settings allow, as Entra does.
        return get_role_settings(ctx, directory_id, role_id).activation_max_duration


def execute(
    ctx: Ctx, directory_id: uuid.UUID, kind: Kind, body: ScheduleRequestIn, totp: str | None
) -> RoleRequest:
    principal = parse_guid(body.principal_id, field="principalId")
    role = parse_guid(body.role_definition_id, field="roleDefinitionId")
    member = MemberType.ACTIVE if kind == "assignment" else MemberType.ELIGIBLE
    window = Window(body, ctx.now)
    ticket = body.ticket_info or TicketInfoIn()
    action = body.action
    if action in SELF_ACTIONS:
        if principal != ctx.actor.user_id:
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                f"{action} acts on the signed-in user: principalId must be your own id.",
            )
        if kind == "eligibility" and action in ("selfActivate", "selfDeactivate"):
            raise bad_request(
                f"{action} is a roleAssignmentScheduleRequests action: an eligibility is "
                "activated or deactivated through an active assignment request."
            )
    if action == "adminAssign":
        return membership.admin_assign(
            ctx,
            directory_id=directory_id,
            principal_id=principal,
            role_id=role,
            member_type=member,
            start_at=window.start,
            end_at=window.end,
            justification=body.justification,
            ticket_number=ticket.ticket_number,
            ticket_system=ticket.ticket_system,
            totp_code=totp,
        )
    if action == "adminUpdate":
        return membership.admin_update(
            ctx,
            directory_id=directory_id,
            principal_id=principal,
            role_id=role,
            member_type=member,
            end_at=window.end,
            start_at=window.start,
            justification=body.justification,
        )
    if action == "adminRemove":
        return membership.admin_remove(
            ctx,
            directory_id=directory_id,
            principal_id=principal,
            role_id=role,
            member_type=member,
            justification=body.justification,
        )
    if action in ("adminExtend", "adminRenew"):
        change = membership.admin_extend if action == "adminExtend" else membership.admin_renew
        return change(
            ctx,
            directory_id=directory_id,
            principal_id=principal,
            role_id=role,
            member_type=member,
            end_at=window.end,
            justification=body.justification,
        )
    if action == "selfActivate":
        return membership.self_activate(
            ctx,
            directory_id=directory_id,
            role_id=role,
            duration=window.activation_duration(ctx, directory_id, role),
            start_at=window.start,
            justification=body.justification,
            ticket_number=ticket.ticket_number,
            ticket_system=ticket.ticket_system,
            totp_code=totp,
        )
    if action == "selfDeactivate":
        return membership.self_deactivate(
            ctx, directory_id=directory_id, role_id=role, justification=body.justification
        )
    ask = membership.self_extend if action == "selfExtend" else membership.self_renew
    return ask(
        ctx,
        directory_id=directory_id,
        role_id=role,
        member_type=member,
        end_at=window.end,
        justification=body.justification,
    )
