"""Our rows in the shapes of Microsoft Graph v1.0 resources, and what each can be filtered on.

One schedule row is both the Graph schedule and its single instance (we have no recurrence), so
an instance's id is its schedule's id. Every membership is direct (memberType "Direct") and
tenant-wide (directoryScopeId "/").
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from openpim.assignments.models import (
    PENDING_STATUSES,
    Assignment,
    Eligibility,
    RoleRequest,
)
from openpim.audit.models import AuditEvent
from openpim.directory.models import AccountKind, User
from openpim.graph.query import Field, Fields
from openpim.graph.values import iso
from openpim.roles.models import RoleDefinition

NS = "#microsoft.graph."
TENANT_SCOPE = "/"
MEMBER_TYPE = "Direct"

Item = dict[str, Any]


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def expiration(end: Any) -> Item:
    if end is None:
        return {"type": "noExpiration", "endDateTime": None, "duration": None}
    return {"type": "afterDateTime", "endDateTime": iso(end), "duration": None}


def schedule_info(start: Any, end: Any) -> Item:
    return {"startDateTime": iso(start), "recurrence": None, "expiration": expiration(end)}


# --- roleDefinition, user -------------------------------------------------------------------


def role_definition(role: RoleDefinition) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleDefinition",
        "id": str(role.id),
        "displayName": role.display_name,
        "description": role.description,
        "isBuiltIn": role.is_built_in,
        "isEnabled": True,
        "isPrivileged": role.is_privileged,
        "templateId": str(role.id),
        "version": "1",
        "resourceScopes": [TENANT_SCOPE],
        # Our roles carry no resource actions: what a role lets its holder do is decided by the
        # systems that ask OpenPIM who holds it.
        "rolePermissions": [],
    }


ROLE_FIELDS: Fields = {
    "id": Field("guid"),
    "templateId": Field("guid"),
    "displayName": Field("string"),
    "isBuiltIn": Field("bool"),
    "isEnabled": Field("bool"),
    "isPrivileged": Field("bool"),
}


def user(row: User) -> Item:
    return {
        "@odata.type": NS + "user",
        "id": str(row.id),
        "displayName": row.display_name,
        "userPrincipalName": row.user_principal_name,
        "mail": row.user_principal_name,
        "accountEnabled": row.enabled,
        "userType": "Member" if row.account_kind == AccountKind.ORGANIZATIONAL else "Guest",
        "createdDateTime": iso(row.created_at),
        "businessPhones": [],
    }


USER_FIELDS: Fields = {
    "id": Field("guid", User.id),
    "userPrincipalName": Field("string", User.user_principal_name, lower=True),
    "mail": Field("string", User.user_principal_name, lower=True),
    "displayName": Field("string", User.display_name),
    "accountEnabled": Field("bool", User.enabled),
    "userType": Field(
        "string",
        User.account_kind,
        stored={"Member": AccountKind.ORGANIZATIONAL.value, "Guest": AccountKind.EXTERNAL.value},
    ),
    "createdDateTime": Field("datetime", User.created_at),
}


# --- requests -------------------------------------------------------------------------------

REQUEST_TYPES = {
    "assignment": NS + "unifiedRoleAssignmentScheduleRequest",
    "eligibility": NS + "unifiedRoleEligibilityScheduleRequest",
}


def _created_by(request: RoleRequest) -> Item:
    if request.requested_by_id is not None:
        return {
            "user": {"id": str(request.requested_by_id), "displayName": request.requested_by_label}
        }
    # The server operator or the worker: no directory user, shown as an application.
    return {"application": {"id": None, "displayName": request.requested_by_label}}


def schedule_request(request: RoleRequest, kind: str, *, validation_only: bool = False) -> Item:
    pending = request.status in PENDING_STATUSES
    ticket = None
    if request.ticket_number or request.ticket_system:
        ticket = {"ticketNumber": request.ticket_number, "ticketSystem": request.ticket_system}
    return {
        "@odata.type": REQUEST_TYPES[kind],
        "id": str(request.id),
        "status": request.status,
        "createdDateTime": iso(request.created_at),
        "completedDateTime": None if pending else iso(request.decided_at or request.created_at),
        "approvalId": str(request.id) if request.approval_deadline is not None else None,
        "customData": None,
        "createdBy": _created_by(request),
        "action": request.action,
        "principalId": str(request.principal_id),
        "roleDefinitionId": str(request.role_id),
        "directoryScopeId": TENANT_SCOPE,
        "appScopeId": None,
        "isValidationOnly": validation_only,
        "targetScheduleId": _id(request.result_schedule_id or request.target_schedule_id),
        "justification": request.justification,
        "scheduleInfo": schedule_info(request.start_at, request.end_at)
        if request.start_at is not None
        else None,
        "ticketInfo": ticket or {"ticketNumber": None, "ticketSystem": None},
    }


REQUEST_FIELDS: Fields = {
    "id": Field("guid", RoleRequest.id),
    "principalId": Field("guid", RoleRequest.principal_id),
    "roleDefinitionId": Field("guid", RoleRequest.role_id),
    "targetScheduleId": Field("guid", RoleRequest.result_schedule_id),
    "createdBy/user/id": Field("guid", RoleRequest.requested_by_id),
    "status": Field("string", RoleRequest.status),
    "action": Field("string", RoleRequest.action),
    "createdDateTime": Field("datetime", RoleRequest.created_at),
    "completedDateTime": Field("datetime", RoleRequest.decided_at),
    "directoryScopeId": Field("string", constant=TENANT_SCOPE),
    "appScopeId": Field("string", constant=None),
}


# --- schedules and instances ----------------------------------------------------------------


def eligibility_schedule(row: Eligibility) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleEligibilitySchedule",
        **_schedule_common(row),
    }


def assignment_schedule(row: Assignment) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleAssignmentSchedule",
        **_schedule_common(row),
        "assignmentType": row.assignment_type,
    }


def _schedule_common(row: Eligibility | Assignment) -> Item:
    return {
        "id": str(row.id),
        "principalId": str(row.principal_id),
        "roleDefinitionId": str(row.role_id),
        "directoryScopeId": TENANT_SCOPE,
        "appScopeId": None,
        "createdDateTime": iso(row.created_at),
        "createdUsing": _id(row.request_id),
        "modifiedDateTime": None,
        "status": "Provisioned",
        "memberType": MEMBER_TYPE,
        "scheduleInfo": schedule_info(row.start_at, row.end_at),
    }


def eligibility_instance(row: Eligibility) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleEligibilityScheduleInstance",
        **_instance_common(row),
        "roleEligibilityScheduleId": str(row.id),
    }


def assignment_instance(row: Assignment) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleAssignmentScheduleInstance",
        **_instance_common(row),
        "assignmentType": row.assignment_type,
        "roleAssignmentOriginId": str(row.id),
        "roleAssignmentScheduleId": str(row.id),
    }


def _instance_common(row: Eligibility | Assignment) -> Item:
    return {
        "id": str(row.id),
        "principalId": str(row.principal_id),
        "roleDefinitionId": str(row.role_id),
        "directoryScopeId": TENANT_SCOPE,
        "appScopeId": None,
        "startDateTime": iso(row.start_at),
        "endDateTime": iso(row.end_at),
        "memberType": MEMBER_TYPE,
    }


def schedule_fields(model: type[Eligibility] | type[Assignment], *, instance: bool) -> Fields:
    fields: dict[str, Field] = {
        "id": Field("guid", model.id),
        "principalId": Field("guid", model.principal_id),
        "roleDefinitionId": Field("guid", model.role_id),
        "directoryScopeId": Field("string", constant=TENANT_SCOPE),
        "appScopeId": Field("string", constant=None),
        "memberType": Field("string", constant=MEMBER_TYPE),
    }
    if model is Assignment:
        fields["assignmentType"] = Field("string", Assignment.assignment_type)
    if instance:
        fields["startDateTime"] = Field("datetime", model.start_at)
        fields["endDateTime"] = Field("datetime", model.end_at)
        schedule_key = (
            "roleAssignmentScheduleId" if model is Assignment else "roleEligibilityScheduleId"
        )
        fields[schedule_key] = Field("guid", model.id)
    else:
        fields["status"] = Field("string", constant="Provisioned")
        fields["createdDateTime"] = Field("datetime", model.created_at)
        fields["createdUsing"] = Field("guid", model.request_id)
        fields["scheduleInfo/startDateTime"] = Field("datetime", model.start_at)
        fields["scheduleInfo/expiration/endDateTime"] = Field("datetime", model.end_at)
    return fields


# --- directoryAudit -------------------------------------------------------------------------

_OPERATION_TYPES = {
    "added": "Assign",
    "removed": "Unassign",
    "activated": "Assign",
    "deactivated": "Unassign",
    "updated": "Update",
    "extended": "Update",
    "renewed": "Update",
    "created": "Add",
    "deleted": "Delete",
}


def directory_audit(event: AuditEvent) -> Item:
    initiated: Item
    if event.actor_id is not None:
        initiated = {
            "user": {
                "id": str(event.actor_id),
                "displayName": event.actor_label,
                "userPrincipalName": event.actor_label,
                "ipAddress": event.client_address,
            },
            "app": None,
        }
    else:
        initiated = {"user": None, "app": {"appId": None, "displayName": event.actor_label}}
    targets: list[Item] = []
    if event.target_user_id is not None or event.target_label:
        targets.append(
            {
                "id": _id(event.target_user_id),
                "displayName": event.target_label,
                "type": "User",
                "userPrincipalName": event.target_label,
                "modifiedProperties": [],
            }
        )
    if event.role_id is not None:
        targets.append(
            {
                "id": str(event.role_id),
                "displayName": event.role_label,
                "type": "Role",
                "userPrincipalName": None,
                "modifiedProperties": [],
            }
        )
    details = {
        "justification": event.justification,
        "ticketNumber": event.ticket_number,
        "ticketSystem": event.ticket_system,
        "requestId": _id(event.request_id),
        "scheduleId": _id(event.schedule_id),
        "startDateTime": iso(event.start_at),
        "endDateTime": iso(event.end_at),
        "sequenceNumber": str(event.seq),
        "hash": event.hash,
        "detail": event.detail,
        "httpRequestId": event.http_request_id,
    }
    verb = event.action.rsplit(".", 1)[-1]
    return {
        "@odata.type": NS + "directoryAudit",
        "id": str(event.seq),
        "activityDateTime": iso(event.occurred_at),
        "activityDisplayName": event.action,
        "category": "RoleManagement",
        "correlationId": _id(event.request_id),
        "loggedByService": "PIM",
        "operationType": _OPERATION_TYPES.get(verb, "Other"),
        "result": event.result,
        "resultReason": _reason(event) if event.result != "success" else "",
        "initiatedBy": initiated,
        "targetResources": targets,
        "additionalDetails": [
            {"key": key, "value": value} for key, value in details.items() if value is not None
        ],
    }


def _reason(event: AuditEvent) -> str:
    if not event.detail:
        return ""
    try:
        detail = json.loads(event.detail)
    except ValueError:
        return event.detail
    reason = detail.get("reason") if isinstance(detail, dict) else None
    return str(reason) if reason is not None else event.detail


AUDIT_FIELDS: Fields = {
    "id": Field("int", AuditEvent.seq),
    "activityDateTime": Field("datetime", AuditEvent.occurred_at),
    "activityDisplayName": Field("string", AuditEvent.action),
    "result": Field("string", AuditEvent.result),
    "correlationId": Field("guid", AuditEvent.request_id),
    "initiatedBy/user/id": Field("guid", AuditEvent.actor_id),
    "category": Field("string", constant="RoleManagement"),
    "loggedByService": Field("string", constant="PIM"),
}
