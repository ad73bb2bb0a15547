"""The caller's directory, its verified domains, and its users."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from openpim.api.deps import (
    READER,
    SELF_OR_READER,
    SIGNED_IN,
    USER_ADMIN,
    CallerDep,
    StrictRoute,
    access,
)
from openpim.api.scope import directory_of
from openpim.auth.mfa import reset_totp
from openpim.directory import service as directory
from openpim.directory.schemas import (
    DirectoryOut,
    DomainCreate,
    DomainOut,
    PasswordSet,
    UserCreate,
    UserOut,
    UserPageOut,
)

router = APIRouter(tags=["directory"], route_class=StrictRoute)


@router.get(
    "/directory",
    summary="My directory and its verified domains",
    response_model=DirectoryOut,
    openapi_extra=access(SIGNED_IN),
)
def get_directory(caller: CallerDep) -> DirectoryOut:
    with caller.read() as ctx:
        directory_id = directory_of(ctx)
        row = directory.get_directory(ctx, directory_id)
        return DirectoryOut.build(row, directory.list_domains(ctx, directory_id))


@router.post(
    "/directory/domains",
    summary="Verify a domain: users on it become organizational accounts",
    response_model=DomainOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(USER_ADMIN),
)
def add_domain(body: DomainCreate, caller: CallerDep) -> DomainOut:
    with caller.unit() as ctx:
        return DomainOut.model_validate(
            directory.add_verified_domain(ctx, directory_of(ctx), body.domain)
        )


@router.delete(
    "/directory/domains/{domain}",
    summary="Remove a verified domain (refused while users sign in with it)",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(USER_ADMIN),
)
def remove_domain(domain: Annotated[str, Path(max_length=253)], caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        directory.remove_verified_domain(ctx, directory_of(ctx), domain)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/users",
    summary="Users of my directory, by user principal name (keyset pages)",
    response_model=UserPageOut,
    # User administrators and PIM readers.
    openapi_extra=access(READER),
)
def list_users(
    caller: CallerDep,
    search: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=directory.MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=320)] = None,
) -> UserPageOut:
    with caller.read() as ctx:
        page = directory.list_users(ctx, directory_of(ctx), search, limit, after)
        return UserPageOut(
            items=[UserOut.model_validate(u) for u in page.items], next_after=page.next_after
        )


@router.post(
    "/users",
    summary="Create a user",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(USER_ADMIN),
)
def create_user(body: UserCreate, caller: CallerDep) -> UserOut:
    password = body.password.get_secret_value() if body.password is not None else None
    with caller.unit() as ctx:
        user = directory.create_user(
            ctx, directory_of(ctx), body.user_principal_name, body.display_name, password
        )
        return UserOut.model_validate(user)


@router.get(
    "/users/{user_id}",
    summary="One user (myself, or anyone for user administrators and PIM readers)",
    response_model=UserOut,
    openapi_extra=access(SELF_OR_READER),
)
def get_user(user_id: uuid.UUID, caller: CallerDep) -> UserOut:
    with caller.read() as ctx:
        return UserOut.model_validate(directory.get_user(ctx, directory_of(ctx), user_id))


@router.post(
    "/users/{user_id}/disable",
    summary="Disable a user: sign-in blocked, tokens revoked, activations ended",
    response_model=UserOut,
    openapi_extra=access(USER_ADMIN),
)
def disable_user(user_id: uuid.UUID, caller: CallerDep) -> UserOut:
    with caller.unit() as ctx:
        return UserOut.model_validate(directory.disable_user(ctx, directory_of(ctx), user_id))


@router.post(
    "/users/{user_id}/enable",
    summary="Enable a disabled user again",
    response_model=UserOut,
    openapi_extra=access(USER_ADMIN),
)
def enable_user(user_id: uuid.UUID, caller: CallerDep) -> UserOut:
    with caller.unit() as ctx:
        return UserOut.model_validate(directory.enable_user(ctx, directory_of(ctx), user_id))


@router.post(
    "/users/{user_id}/password",
    summary="Set a user's password (their sessions and tokens end)",
    response_model=UserOut,
    openapi_extra=access(USER_ADMIN),
)
def set_password(user_id: uuid.UUID, body: PasswordSet, caller: CallerDep) -> UserOut:
    with caller.unit() as ctx:
        user = directory.set_password(
            ctx, directory_of(ctx), user_id, body.password.get_secret_value()
        )
        return UserOut.model_validate(user)


@router.post(
    "/users/{user_id}/mfa/reset",
    summary="Remove a user's authenticator (lost device); they enrol again",
    response_model=UserOut,
    openapi_extra=access(USER_ADMIN),
)
def reset_mfa(user_id: uuid.UUID, caller: CallerDep) -> UserOut:
    with caller.unit() as ctx:
        return UserOut.model_validate(reset_totp(ctx, user_id))
