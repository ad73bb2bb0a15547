"""/v1.0 roleDefinitions, users, me and auditLogs/directoryAudits.

Reads go through the services' own authorisation: the role catalog (roles.service), the user
reader check of directory.service, PIM's reader check for the audit history.
"""

from __future__ import annotations

from fastapi import Request, Response

from openpim.api.deps import READER, SELF_OR_READER, SIGNED_IN, CallerDep, access
from openpim.api.scope import directory_of, user_of
from openpim.audit import query as audit_query
from openpim.audit.models import AuditEvent
from openpim.directory import service as directory_service
from openpim.directory.models import User
from openpim.graph import shapes
from openpim.graph.errors import not_found
from openpim.graph.query import Keyset
from openpim.graph.values import guid_or_none
from openpim.graph.web import (
    COUNT_OPTIONS,
    NO_EXPAND,
    entity_options,
    entity_response,
    graph_router,
    memory_collection,
    options,
    sql_collection,
)
from openpim.roles import service as roles_service

router = graph_router()

ROLES = "roleManagement/directory/roleDefinitions"
USERS_KEYSET = Keyset(((User.user_principal_name, "user_principal_name", "str"),))
AUDIT_KEYSET = Keyset(
    (
        (AuditEvent.occurred_at, "occurred_at", "datetime"),
        (AuditEvent.seq, "seq", "int"),
    ),
    descending=True,
)


# --- roleDefinitions ------------------------------------------------------------------------


def _roles(request: Request, caller: CallerDep, count_only: bool) -> Response:
    opts = options(
        request, fields=shapes.ROLE_FIELDS, allowed=COUNT_OPTIONS if count_only else NO_EXPAND
    )
    with caller.read() as ctx:
        items = [
            shapes.role_definition(r) for r in roles_service.list_roles(ctx, directory_of(ctx))
        ]
    return memory_collection(
        request,
        opts,
        items=items,
        fields=shapes.ROLE_FIELDS,
        key=lambda i: (str(i["displayName"]).casefold(), str(i["id"])),
        context=ROLES,
        count_only=count_only,
    )


@router.get(f"/{ROLES}", summary="List roleDefinitions", openapi_extra=access(SIGNED_IN))
def list_role_definitions(request: Request, caller: CallerDep) -> Response:
    return _roles(request, caller, False)


@router.get(f"/{ROLES}/$count", summary="Count roleDefinitions", openapi_extra=access(SIGNED_IN))
def count_role_definitions(request: Request, caller: CallerDep) -> Response:
    return _roles(request, caller, True)


@router.get(
    f"/{ROLES}/{{role_id}}", summary="Get a unifiedRoleDefinition", openapi_extra=access(SIGNED_IN)
)
def get_role_definition(role_id: str, request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request)
    parsed = guid_or_none(role_id)
    if parsed is None:
        raise not_found(f"Role definition {role_id!r} does not exist.")
    with caller.read() as ctx:
        role = roles_service.get_role(ctx, directory_of(ctx), parsed)
        return entity_response(request, ROLES, shapes.role_definition(role), opts)


# --- users and me ---------------------------------------------------------------------------


def _users(request: Request, caller: CallerDep, count_only: bool) -> Response:
    opts = options(
        request, fields=shapes.USER_FIELDS, allowed=COUNT_OPTIONS if count_only else NO_EXPAND
    )
    with caller.read() as ctx:
        return sql_collection(
            request,
            ctx,
            opts,
            statement=directory_service.users_statement(ctx, directory_of(ctx)),
            fields=shapes.USER_FIELDS,
            keyset=USERS_KEYSET,
            shape=shapes.user,
            context="users",
            count_only=count_only,
        )


@router.get("/users", summary="List users", openapi_extra=access(READER))
def list_users(request: Request, caller: CallerDep) -> Response:
    return _users(request, caller, False)


@router.get("/users/$count", summary="Count users", openapi_extra=access(READER))
def count_users(request: Request, caller: CallerDep) -> Response:
    return _users(request, caller, True)


@router.get(
    "/users/{key}",
    summary="Get a user by id or userPrincipalName",
    openapi_extra=access(SELF_OR_READER),
)
def get_user(key: str, request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request)
    with caller.read() as ctx:
        directory_id = directory_of(ctx)
        user_id = guid_or_none(key)
        if user_id is not None:
            row = directory_service.get_user(ctx, directory_id, user_id)
        else:
            found = directory_service.find_user_by_upn(ctx, directory_id, key)
            if found is None:
                raise not_found(f"User {key!r} does not exist.")
            row = found
        return entity_response(request, "users", shapes.user(row), opts)


@router.get("/me", summary="The signed-in user", openapi_extra=access(SIGNED_IN))
def me(request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request)
    with caller.read() as ctx:
        row = directory_service.get_user(ctx, directory_of(ctx), user_of(ctx))
        return entity_response(request, "users", shapes.user(row), opts)


# --- auditLogs/directoryAudits --------------------------------------------------------------

AUDITS = "auditLogs/directoryAudits"


def _audits(request: Request, caller: CallerDep, count_only: bool) -> Response:
    opts = options(
        request, fields=shapes.AUDIT_FIELDS, allowed=COUNT_OPTIONS if count_only else NO_EXPAND
    )
    with caller.read() as ctx:
        return sql_collection(
            request,
            ctx,
            opts,
            statement=audit_query.directory_events_statement(ctx, directory_of(ctx)),
            fields=shapes.AUDIT_FIELDS,
            keyset=AUDIT_KEYSET,
            shape=shapes.directory_audit,
            context=AUDITS,
            count_only=count_only,
        )


@router.get(
    f"/{AUDITS}", summary="List directoryAudits (newest first)", openapi_extra=access(READER)
)
def list_directory_audits(request: Request, caller: CallerDep) -> Response:
    return _audits(request, caller, False)


@router.get(f"/{AUDITS}/$count", summary="Count directoryAudits", openapi_extra=access(READER))
def count_directory_audits(request: Request, caller: CallerDep) -> Response:
    return _audits(request, caller, True)


@router.get(f"/{AUDITS}/{{audit_id}}", summary="Get a directoryAudit", openapi_extra=access(READER))
def get_directory_audit(audit_id: str, request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request)
    if not (audit_id.isascii() and audit_id.isdigit()) or len(audit_id) > 18:
        raise not_found(f"Audit record {audit_id!r} does not exist.")
    with caller.read() as ctx:
        event = audit_query.get_event(ctx, directory_of(ctx), int(audit_id))
        return entity_response(request, AUDITS, shapes.directory_audit(event), opts)
