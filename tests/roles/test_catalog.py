"""The built-in catalog against Microsoft's published template ids and 2016 MFA list."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from openpim.roles import ids
from openpim.roles.catalog import BUILT_IN_BY_ID, BUILT_IN_ROLES, ensure_built_in_roles
from openpim.roles.models import RoleDefinition
from tests.factories import Env

# Transcribed from Microsoft's "Microsoft Entra built-in roles" reference ("All roles" table);
# the older names come from the 2020 "Role template IDs" table of the same documentation.
MICROSOFT_TEMPLATE_IDS = {
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Application Developer": "cf1c38e5-3621-4004-a7cb-879624dced7c",
    "Authentication Administrator": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    "Azure DevOps Administrator": "e3973bdf-4987-49ae-837a-ba8e231c7286",
    "Azure Information Protection Administrator": "7495fdc4-34c4-4d15-a289-98788ce399fd",
    "B2C IEF Keyset Administrator": "aaf43236-0c0d-4d5f-883a-6955382ac081",
    "B2C IEF Policy Administrator": "3edaf663-341e-4475-9f94-5c398ef6c070",
    "Billing Administrator": "b0f54661-2d74-4c50-afa3-1ec803f12efe",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
    "Cloud Device Administrator": "7698a772-787b-4ac8-901f-60d6b08affd2",
    "Compliance Administrator": "17315797-102d-40b4-93e0-432062caca18",
    "Compliance Data Administrator": "e6d1a23a-da11-4be4-9570-befc86d067a7",
    "Conditional Access Administrator": "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    "Customer LockBox Access Approver": "5c4f9dcd-47dc-4cf7-8c9a-9e4207cbfc91",
    "Desktop Analytics Administrator": "38a96431-2bdf-4b4c-8b6e-5d3d8abac1a4",
    "Directory Readers": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
    "Directory Writers": "9360feb5-f418-4baa-8175-e2a00bac4301",
    "Dynamics 365 Administrator": "44367163-eba1-44c3-98af-f5787879f96a",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "External Identity Provider Administrator": "be2f45a1-457d-42af-a067-6ec1fa63bc45",
    "Fabric Administrator": "a9ea8996-122f-4c74-9520-8edcd192826c",
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Groups Administrator": "fdd7a751-b60b-444a-984c-02652fe8fa1c",
    "Guest Inviter": "95e79109-95c0-4d8e-aee3-d01accf2d47b",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Intune Administrator": "3a2c62db-5318-420d-8d74-23affee5d9d5",
    "Kaizala Administrator": "74ef975b-6605-40af-a5d2-b9539d836353",
    "License Administrator": "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
    "Message Center Privacy Reader": "ac16e43d-7b2d-40e0-ac05-243ff356ab5b",
    "Message Center Reader": "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
    "Microsoft Entra Joined Device Local Administrator": "9f06204d-73c1-4d4c-880a-6edb90606fd8",
    "Office Apps Administrator": "2b745bdf-0803-4d80-aa65-822c4493daac",
    "Partner Tier1 Support": "4ba39ca4-527c-499a-b93d-d9b492c50246",
    "Partner Tier2 Support": "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",
    "Password Administrator": "966707d0-3269-4727-9be2-8c3a10f19b9d",
    "Power Platform Administrator": "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
    "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Reports Reader": "4a5d8f65-41da-4de4-8968-e035b65339cf",
    "Search Administrator": "0964bb5e-9bdb-4d7b-ac29-58e794862a40",
    "Search Editor": "8835291a-918c-4fd7-a9ce-faa49f0cf7d9",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Security Operator": "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "Service Support Administrator": "f023fd81-a637-4b56-95fd-791ac0226033",
    "SharePoint Administrator": "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "Skype for Business Administrator": "75941009-915a-4869-abe7-691bff18279e",
    "Teams Administrator": "69091246-20e8-4a56-aa4d-066075b2a7a8",
    "Teams Communications Administrator": "baf37b3a-610e-45da-9e62-d9d1e5e8914b",
    "Teams Communications Support Engineer": "f70938a0-fc10-4177-9e90-2178f8765737",
    "Teams Communications Support Specialist": "fcf91098-03e3-41a9-b5ba-6f0ec8188a12",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
}

# Microsoft's 2016 "highly privileged" list (DESIGN.md). Mailbox Administrator is on it but has
# no published template id (deprecated), so the catalog does not carry it.
HIGHLY_PRIVILEGED_2016 = {
    "Global Administrator",
    "Privileged Role Administrator",
    "User Administrator",
    "Directory Writers",
    "Partner Tier1 Support",
    "Partner Tier2 Support",
    "Billing Administrator",
    "Security Administrator",
    "Exchange Administrator",
    "Skype for Business Administrator",
    "SharePoint Administrator",
    "Compliance Administrator",
}


def test_every_built_in_role_carries_microsofts_template_id() -> None:
    assert {r.name: r.id for r in BUILT_IN_ROLES} == MICROSOFT_TEMPLATE_IDS
    assert len(BUILT_IN_BY_ID) == len(BUILT_IN_ROLES)
    assert len({r.name.casefold() for r in BUILT_IN_ROLES}) == len(BUILT_IN_ROLES)


def test_mfa_is_locked_on_exactly_the_2016_highly_privileged_roles() -> None:
    locked = {r.name for r in BUILT_IN_ROLES if r.mfa_always_required}
    assert locked == HIGHLY_PRIVILEGED_2016
    by_name = {r.name: r for r in BUILT_IN_ROLES}
    assert not by_name["Privileged Authentication Administrator"].mfa_always_required
    assert all(by_name[name].is_privileged for name in HIGHLY_PRIVILEGED_2016)


def test_the_ids_pim_rules_name_are_in_the_catalog() -> None:
    named = {
        ids.GLOBAL_ADMINISTRATOR: "Global Administrator",
        ids.PRIVILEGED_ROLE_ADMINISTRATOR: "Privileged Role Administrator",
        ids.SECURITY_ADMINISTRATOR: "Security Administrator",
        ids.SECURITY_READER: "Security Reader",
        ids.GLOBAL_READER: "Global Reader",
        ids.USER_ADMINISTRATOR: "User Administrator",
    }
    for role_id, name in named.items():
        assert BUILT_IN_BY_ID[role_id].name == name


def test_ensure_built_in_roles_is_idempotent_and_repairs_drift(env: Env) -> None:
    pra = ids.PRIVILEGED_ROLE_ADMINISTRATOR
    with env.runtime.db.unit_of_work() as s:
        row = s.get(RoleDefinition, pra)
        assert row is not None
        row.mfa_always_required = False
        row.display_name = "Renamed by hand"
    with env.runtime.db.unit_of_work() as s:
        assert ensure_built_in_roles(s, env.now) == 0
    with env.runtime.db.reader() as s:
        rows = s.scalars(select(RoleDefinition).where(RoleDefinition.is_built_in.is_(True))).all()
        assert {r.id for r in rows} == {uuid.UUID(i) for i in MICROSOFT_TEMPLATE_IDS.values()}
        repaired = s.get(RoleDefinition, pra)
        assert repaired is not None
        assert repaired.mfa_always_required
        assert repaired.display_name == "Privileged Role Administrator"
        assert all(r.directory_id is None for r in rows)
