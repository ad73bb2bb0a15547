"""Microsoft's built-in directory roles, with their published template ids.

`mfa_always_required` marks the roles of Microsoft's 2016 "highly privileged" list: MFA on
activation can never be switched off for them. `is_privileged` puts a role on the security
wizard and the dashboard.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpim.roles.models import RoleDefinition


@dataclass(frozen=True)
class BuiltInRole:
    id: str
    name: str
    description: str
    mfa_always_required: bool = False
    is_privileged: bool = True


BUILT_IN_ROLES: tuple[BuiltInRole, ...] = (
    BuiltInRole(
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        "Can manage all aspects of the directory and the services that use its identities.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
        "Can manage role assignments and every aspect of Privileged Identity Management.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
        "Can read security information and reports, and manage security configuration.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        "Billing Administrator",
        "Can perform common billing tasks like updating payment information.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "f023fd81-a637-4b56-95fd-791ac0226033",
        "Service Support Administrator",
        "Can read service health information and manage support tickets (Service Administrator).",
    ),
    BuiltInRole(
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "User Administrator",
        "Can manage all aspects of users and groups, including resetting passwords for "
        "limited admins.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
        "Can reset passwords for non-administrators and Password Administrators.",
    ),
    BuiltInRole(
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
    ),
    BuiltInRole(
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
        "Can manage all aspects of the Exchange product.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
        "Can manage all aspects of the SharePoint service.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "75941009-915a-4869-abe7-691bff18279e",
        "Skype for Business Administrator",
        "Can manage all aspects of the Skype for Business product.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
        "Can manage all aspects of the Intune product.",
    ),
    BuiltInRole(
        "17315797-102d-40b4-93e0-432062caca18",
        "Compliance Administrator",
        "Can read and manage compliance configuration and reports.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
        "Can manage Conditional Access capabilities.",
    ),
    BuiltInRole(
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps except "
        "App Proxy.",
    ),
    BuiltInRole(
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps.",
    ),
    BuiltInRole(
        "9360feb5-f418-4baa-8175-e2a00bac4301",
        "Directory Writers",
        "Can read and write basic directory information.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Directory Readers",
        "Can read basic directory information.",
        is_privileged=False,
    ),
    BuiltInRole(
        "4ba39ca4-527c-499a-b93d-d9b492c50246",
        "Partner Tier1 Support",
        "Do not use: kept for partners that relied on it.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",
        "Partner Tier2 Support",
        "Do not use: kept for partners that relied on it.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Security Reader",
        "Can read security information and reports.",
    ),
    BuiltInRole(
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Global Reader",
        "Can read everything that a Global Administrator can, but not update anything.",
    ),
    BuiltInRole(
        "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
        "Security Operator",
        "Creates and manages security events.",
    ),
    BuiltInRole(
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
        "Can access to view, set and reset authentication method information for any "
        "non-admin user.",
    ),
    BuiltInRole(
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
        "Can access to view, set and reset authentication method information for any user.",
        mfa_always_required=True,
    ),
    BuiltInRole(
        "69091246-20e8-4a56-aa4d-066075b2a7a8",
        "Teams Administrator",
        "Can manage the Microsoft Teams service.",
    ),
    BuiltInRole(
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Groups Administrator",
        "Members of this role can create and manage groups and group settings.",
    ),
    BuiltInRole(
        "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
        "License Administrator",
        "Can manage product licenses on users and groups.",
    ),
    BuiltInRole(
        "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Reports Reader",
        "Can read sign-in and audit reports.",
        is_privileged=False,
    ),
    BuiltInRole(
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        "Guest Inviter",
        "Can invite guest users independent of the 'members can invite guests' setting.",
        is_privileged=False,
    ),
)

BUILT_IN_BY_ID: dict[uuid.UUID, BuiltInRole] = {uuid.UUID(r.id): r for r in BUILT_IN_ROLES}


def ensure_built_in_roles(session: Session, now: datetime) -> int:
    """Insert or refresh the built-in catalog. Idempotent; returns how many rows were added."""
    existing = {
        row.id: row
        for row in session.scalars(
            select(RoleDefinition).where(RoleDefinition.is_built_in.is_(True))
        )
    }
    added = 0
    for role in BUILT_IN_ROLES:
        role_id = uuid.UUID(role.id)
        row = existing.get(role_id)
        if row is None:
            session.add(
                RoleDefinition(
                    id=role_id,
                    directory_id=None,
                    display_name=role.name,
                    description=role.description,
                    is_built_in=True,
                    mfa_always_required=role.mfa_always_required,
                    is_privileged=role.is_privileged,
                    created_at=now,
                )
            )
            added += 1
        else:
            row.display_name = role.name
            row.description = role.description
            row.mfa_always_required = role.mfa_always_required
            row.is_privileged = role.is_privileged
    session.flush()
    return added
