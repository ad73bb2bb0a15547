"""The policy and policy assignment items of a role, their ids and filterable properties.

Both ids are derived from (directory, role), so parsing one back is all a lookup needs.
"""

from __future__ import annotations

import uuid

from openpim.graph.query import Field, Fields
from openpim.graph.shapes import NS, TENANT_SCOPE, Item
from openpim.policies.settings import RoleSettings

SCOPE_TYPE = "DirectoryRole"


POLICY_FIELDS: Fields = {
    "id": Field("string"),
    "scopeId": Field("string"),
    "scopeType": Field("string"),
    "isOrganizationDefault": Field("bool"),
    "displayName": Field("string"),
}
ASSIGNMENT_FIELDS: Fields = {
    "id": Field("string"),
    "policyId": Field("string"),
    "scopeId": Field("string"),
    "scopeType": Field("string"),
    "roleDefinitionId": Field("string", lower=True),
}


def policy_id(directory_id: uuid.UUID, role_id: uuid.UUID) -> str:
    return f"{SCOPE_TYPE}_{directory_id}_{role_id}"


def parse_policy_id(text: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    parts = text.split("_")
    if len(parts) != 3 or parts[0] != SCOPE_TYPE:
        return None
    try:
        return uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except ValueError:
        return None


def parse_assignment_id(text: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    head, _, role = text.rpartition("_")
    parsed = parse_policy_id(head)
    if parsed is None or role.lower() != str(parsed[1]):
        return None
    return parsed


def policy(settings: RoleSettings) -> Item:
    return {
        "@odata.type": NS + "unifiedRoleManagementPolicy",
        "id": policy_id(settings.directory_id, settings.role_id),
        "displayName": SCOPE_TYPE,
        "description": f"Role settings of role {settings.role_id}",
        "isOrganizationDefault": False,
        "scopeId": TENANT_SCOPE,
        "scopeType": SCOPE_TYPE,
        "lastModifiedDateTime": None,
        "lastModifiedBy": None,
    }


def policy_assignment(settings: RoleSettings) -> Item:
    pid = policy_id(settings.directory_id, settings.role_id)
    return {
        "@odata.type": NS + "unifiedRoleManagementPolicyAssignment",
        "id": f"{pid}_{settings.role_id}",
        "policyId": pid,
        "scopeId": TENANT_SCOPE,
        "scopeType": SCOPE_TYPE,
        "roleDefinitionId": str(settings.role_id),
    }
