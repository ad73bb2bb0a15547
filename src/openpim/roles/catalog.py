"""Microsoft's built-in directory roles, with their published template ids.

The ids and names follow Microsoft's "Microsoft Entra built-in roles" permissions reference (its
"All roles" table), so Graph-speaking clients see the same ids. Roles renamed since 2016-2019
carry today's name; the description records the older one. Mailbox Administrator, on the 2016
list, is deprecated and Microsoft publishes no template id for it, so it is not in the catalog.

`mfa_always_required` marks exactly the catalog's roles on Microsoft's 2016 "highly privileged"
list (Global, Privileged Role, User, Billing, Security, Exchange, Skype for Business, SharePoint
and Compliance Administrator, Directory Writers, Partner Tier1/Tier2 Support): MFA on activation
can never be switched off for them. `is_privileged` puts a role on the security wizard and the
dashboard.
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
    # Added to the catalog from Microsoft's 2016-2019 role list (ids from the same reference).
    BuiltInRole(
        "baf37b3a-610e-45da-9e62-d9d1e5e8914b",
        "Teams Communications Administrator",
        "Can manage calling and meetings features within the Microsoft Teams service.",
    ),
    BuiltInRole(
        "f70938a0-fc10-4177-9e90-2178f8765737",
        "Teams Communications Support Engineer",
        "Can troubleshoot communications issues within Teams using advanced tools.",
    ),
    BuiltInRole(
        "fcf91098-03e3-41a9-b5ba-6f0ec8188a12",
        "Teams Communications Support Specialist",
        "Can troubleshoot communications issues within Teams using basic tools.",
    ),
    BuiltInRole(
        "a9ea8996-122f-4c74-9520-8edcd192826c",
        "Fabric Administrator",
        "Can manage all aspects of the Fabric and Power BI products (formerly Power BI "
        "Administrator).",
    ),
    BuiltInRole(
        "44367163-eba1-44c3-98af-f5787879f96a",
        "Dynamics 365 Administrator",
        "Can manage all aspects of the Dynamics 365 product (formerly CRM Service Administrator).",
    ),
    BuiltInRole(
        "9f06204d-73c1-4d4c-880a-6edb90606fd8",
        "Microsoft Entra Joined Device Local Administrator",
        "Added to the local administrators group on joined devices (formerly Device "
        "Administrators).",
    ),
    BuiltInRole(
        "7698a772-787b-4ac8-901f-60d6b08affd2",
        "Cloud Device Administrator",
        "Limited access to manage devices in the directory.",
    ),
    BuiltInRole(
        "cf1c38e5-3621-4004-a7cb-879624dced7c",
        "Application Developer",
        "Can create application registrations independent of the 'Users can register "
        "applications' setting.",
    ),
    BuiltInRole(
        "7495fdc4-34c4-4d15-a289-98788ce399fd",
        "Azure Information Protection Administrator",
        "Can manage all aspects of the Azure Information Protection product.",
    ),
    BuiltInRole(
        "5c4f9dcd-47dc-4cf7-8c9a-9e4207cbfc91",
        "Customer LockBox Access Approver",
        "Can approve Microsoft support requests to access customer organizational data.",
    ),
    BuiltInRole(
        "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
        "Power Platform Administrator",
        "Can create and manage all aspects of Microsoft Dynamics 365, Power Apps and "
        "Power Automate.",
    ),
    BuiltInRole(
        "38a96431-2bdf-4b4c-8b6e-5d3d8abac1a4",
        "Desktop Analytics Administrator",
        "Can access and manage Desktop management tools and services.",
    ),
    BuiltInRole(
        "2b745bdf-0803-4d80-aa65-822c4493daac",
        "Office Apps Administrator",
        "Can manage Office apps cloud services, including policy and settings management.",
    ),
    BuiltInRole(
        "aaf43236-0c0d-4d5f-883a-6955382ac081",
        "B2C IEF Keyset Administrator",
        "Can manage secrets for federation and encryption in the Identity Experience Framework.",
    ),
    BuiltInRole(
        "3edaf663-341e-4475-9f94-5c398ef6c070",
        "B2C IEF Policy Administrator",
        "Can create and manage trust framework policies in the Identity Experience Framework.",
    ),
    BuiltInRole(
        "be2f45a1-457d-42af-a067-6ec1fa63bc45",
        "External Identity Provider Administrator",
        "Can configure identity providers for use in direct federation.",
    ),
    BuiltInRole(
        "e3973bdf-4987-49ae-837a-ba8e231c7286",
        "Azure DevOps Administrator",
        "Can manage Azure DevOps policies and settings.",
    ),
    BuiltInRole(
        "74ef975b-6605-40af-a5d2-b9539d836353",
        "Kaizala Administrator",
        "Can manage settings for Microsoft Kaizala.",
    ),
    BuiltInRole(
        "0964bb5e-9bdb-4d7b-ac29-58e794862a40",
        "Search Administrator",
        "Can create and manage all aspects of Microsoft Search settings.",
    ),
    BuiltInRole(
        "8835291a-918c-4fd7-a9ce-faa49f0cf7d9",
        "Search Editor",
        "Can create and manage the editorial content such as bookmarks, Q and As, locations.",
    ),
    BuiltInRole(
        "e6d1a23a-da11-4be4-9570-befc86d067a7",
        "Compliance Data Administrator",
        "Creates and manages compliance content.",
    ),
    BuiltInRole(
        "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
        "Message Center Reader",
        "Can read messages and updates for their organization in Message Center only.",
        is_privileged=False,
    ),
    BuiltInRole(
        "ac16e43d-7b2d-40e0-ac05-243ff356ab5b",
        "Message Center Privacy Reader",
        "Can read security messages and updates in Message Center only.",
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
