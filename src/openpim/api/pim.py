"""Enabling PIM for the caller's directory, and the security wizard."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from openpim.api.deps import GLOBAL_ADMIN, MANAGER, READER, CallerDep, StrictRoute, access
from openpim.api.scope import directory_of
from openpim.assignments import service as membership
from openpim.assignments.schemas import WizardConvertIn
from openpim.directory import service as directory
from openpim.directory.schemas import DirectoryOut

router = APIRouter(prefix="/pim", tags=["pim"], route_class=StrictRoute)


class WizardMemberOut(BaseModel):
    user_id: uuid.UUID
    user_principal_name: str


class WizardRoleOut(BaseModel):
    role_id: uuid.UUID
    display_name: str
    permanent_count: int
    eligible_count: int
    permanent_members: list[WizardMemberOut]


class WizardOut(BaseModel):
    value: list[WizardRoleOut]


class WizardConvertOut(BaseModel):
    converted: int


@router.post(
    "/enable",
    summary="Enable PIM for my directory (an active Global Administrator, organizational "
    "account); I become permanent Security and Privileged Role Administrator",
    response_model=DirectoryOut,
    openapi_extra=access(GLOBAL_ADMIN),
)
def enable(caller: CallerDep) -> DirectoryOut:
    with caller.unit() as ctx:
        directory_id = directory_of(ctx)
        membership.enable_pim(ctx, directory_id)
        row = directory.get_directory(ctx, directory_id)
        return DirectoryOut.build(row, directory.list_domains(ctx, directory_id))


@router.get(
    "/wizard",
    summary="Security wizard: privileged roles with their permanent and eligible members",
    response_model=WizardOut,
    openapi_extra=access(READER),
)
def wizard(caller: CallerDep) -> WizardOut:
    with caller.read() as ctx:
        rows = membership.wizard_overview(ctx, directory_of(ctx))
        return WizardOut(
            value=[
                WizardRoleOut(
                    role_id=r.role_id,
                    display_name=r.display_name,
                    permanent_count=r.permanent_count,
                    eligible_count=r.eligible_count,
                    permanent_members=[
                        WizardMemberOut(user_id=u, user_principal_name=upn)
                        for u, upn in r.permanent_members
                    ],
                )
                for r in rows
            ]
        )


@router.post(
    "/wizard/convert",
    summary="Security wizard: convert permanent admins to eligible, all or none",
    response_model=WizardConvertOut,
    openapi_extra=access(MANAGER),
)
def wizard_convert(body: WizardConvertIn, caller: CallerDep) -> WizardConvertOut:
    pairs = [(m.principal_id, m.role_id) for m in body.members]
    with caller.unit() as ctx:
        return WizardConvertOut(converted=membership.wizard_convert(ctx, directory_of(ctx), pairs))
