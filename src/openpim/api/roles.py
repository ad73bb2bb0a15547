"""The role catalog (built-in and custom roles) and each role's settings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from openpim.api.deps import MANAGER, READER, SIGNED_IN, CallerDep, StrictRoute, access
from openpim.api.scope import directory_of
from openpim.policies import service as policies
from openpim.policies.schemas import RoleSettingsListOut, RoleSettingsOut, RoleSettingsUpdate
from openpim.roles import service as roles
from openpim.roles.schemas import RoleCreate, RoleListOut, RoleOut, RoleRename

router = APIRouter(tags=["roles"], route_class=StrictRoute)


@router.get(
    "/roles",
    summary="Roles of my directory: Microsoft's built-in roles and our custom ones",
    response_model=RoleListOut,
    openapi_extra=access(SIGNED_IN),
)
def list_roles(caller: CallerDep) -> RoleListOut:
    with caller.read() as ctx:
        rows = roles.list_roles(ctx, directory_of(ctx))
        return RoleListOut(value=[RoleOut.model_validate(r) for r in rows])


@router.post(
    "/roles",
    summary="Create a custom role",
    response_model=RoleOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(MANAGER),
)
def create_role(body: RoleCreate, caller: CallerDep) -> RoleOut:
    with caller.unit() as ctx:
        role = roles.create_custom_role(ctx, directory_of(ctx), body.display_name, body.description)
        return RoleOut.model_validate(role)


@router.get(
    "/roles/{role_id}",
    summary="One role",
    response_model=RoleOut,
    openapi_extra=access(SIGNED_IN),
)
def get_role(role_id: uuid.UUID, caller: CallerDep) -> RoleOut:
    with caller.read() as ctx:
        return RoleOut.model_validate(roles.get_role(ctx, directory_of(ctx), role_id))


@router.patch(
    "/roles/{role_id}",
    summary="Rename a custom role or change its description",
    response_model=RoleOut,
    openapi_extra=access(MANAGER),
)
def rename_role(role_id: uuid.UUID, body: RoleRename, caller: CallerDep) -> RoleOut:
    with caller.unit() as ctx:
        role = roles.rename_custom_role(
            ctx, directory_of(ctx), role_id, body.display_name, description=body.description
        )
        return RoleOut.model_validate(role)


@router.delete(
    "/roles/{role_id}",
    summary="Delete a custom role nobody has held or requested",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(MANAGER),
)
def delete_role(role_id: uuid.UUID, caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        roles.delete_custom_role(ctx, directory_of(ctx), role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/role-settings",
    summary="Settings of every role (approvers and recipients included)",
    response_model=RoleSettingsListOut,
    openapi_extra=access(READER),
)
def list_settings(caller: CallerDep) -> RoleSettingsListOut:
    with caller.read() as ctx:
        rows = policies.list_role_settings(ctx, directory_of(ctx))
        return RoleSettingsListOut(value=[RoleSettingsOut.from_settings(s) for s in rows])


@router.get(
    "/roles/{role_id}/settings",
    summary="A role's settings (activation duration, MFA, approval, assignment rules)",
    response_model=RoleSettingsOut,
    openapi_extra=access(SIGNED_IN),
)
def get_settings(role_id: uuid.UUID, caller: CallerDep) -> RoleSettingsOut:
    with caller.read() as ctx:
        settings = policies.get_role_settings(ctx, directory_of(ctx), role_id)
        return RoleSettingsOut.from_settings(settings)


@router.patch(
    "/roles/{role_id}/settings",
    summary="Change some of a role's settings (omitted fields keep their value)",
    response_model=RoleSettingsOut,
    openapi_extra=access(MANAGER),
)
def update_settings(
    role_id: uuid.UUID, body: RoleSettingsUpdate, caller: CallerDep
) -> RoleSettingsOut:
    with caller.unit() as ctx:
        settings = policies.update_role_settings(ctx, directory_of(ctx), role_id, body)
        return RoleSettingsOut.from_settings(settings)
