"""/v1.0 policies/roleManagementPolicies (+ rules) and policies/roleManagementPolicyAssignments.

Reading asks policies.service like the native settings routes do (a role's settings for any
member of the directory, all roles' settings for PIM's readers); PATCH of a rule goes through
update_role_settings (PRA only, bounds, MFA lock, audit) and answers 204 as Graph does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Body, Request, Response
from pydantic import ValidationError

from openpim.api.deps import MANAGER, READER, SIGNED_IN, CallerDep, access
from openpim.api.scope import directory_of
from openpim.graph.errors import bad_request, not_found, reject_unstorable
from openpim.graph.odata.errors import ODataError
from openpim.graph.odata.query_options import QueryOptions, parse_options
from openpim.graph.odata.select_expand import Expand
from openpim.graph.policy_rules import catalogue, policy_items, rule_items, rule_patch
from openpim.graph.shapes import Item
from openpim.graph.web import (
    COUNT_OPTIONS,
    NO_EXPAND,
    entity_options,
    entity_response,
    graph_router,
    memory_collection,
    options,
    project,
)
from openpim.kit.context import Ctx
from openpim.policies import service as policies
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.settings import RoleSettings

router = graph_router()

POLICIES = "policies/roleManagementPolicies"
ASSIGNMENTS = "policies/roleManagementPolicyAssignments"
LIST = frozenset({"$filter", "$select", "$expand", "$top", "$count", "$skiptoken"})


def _key(item: Mapping[str, Any]) -> tuple[str, ...]:
    return (str(item["id"]),)


def _settings(ctx: Ctx, policy_key: str) -> RoleSettings:
    parsed = policy_items.parse_policy_id(policy_key)
    directory_id = directory_of(ctx)
    if parsed is None or parsed[0] != directory_id:
        raise not_found(f"Role management policy {policy_key!r} does not exist.")
    return policies.get_role_settings(ctx, directory_id, parsed[1])


def _policy(ctx: Ctx, settings: RoleSettings, expand: Mapping[str, Expand]) -> Item:
    item = policy_items.policy(settings)
    spec = expand.get("rules")
    if spec is not None:
        if spec.expand:
            raise ODataError("$expand inside rules is not supported.", unsupported=True)
        item["rules"] = [
            project(r, spec.select)
            for r in rule_items.rules(settings, ctx.settings.approval_timeout)
        ]
    return item


# --- policies -------------------------------------------------------------------------------


def _policies(request: Request, caller: CallerDep, count_only: bool) -> Response:
    opts = options(
        request,
        fields=policy_items.POLICY_FIELDS,
        expandable=("rules",),
        allowed=COUNT_OPTIONS if count_only else LIST,
    )
    with caller.read() as ctx:
        rows = policies.list_role_settings(ctx, directory_of(ctx))
        items = [_policy(ctx, s, opts.expand) for s in rows]
    return memory_collection(
        request,
        opts,
        items=items,
        fields=policy_items.POLICY_FIELDS,
        key=_key,
        context=POLICIES,
        count_only=count_only,
    )


@router.get(
    f"/{POLICIES}", summary="List unifiedRoleManagementPolicies", openapi_extra=access(READER)
)
def list_policies(request: Request, caller: CallerDep) -> Response:
    return _policies(request, caller, False)


@router.get(
    f"/{POLICIES}/$count",
    summary="Count unifiedRoleManagementPolicies",
    openapi_extra=access(READER),
)
def count_policies(request: Request, caller: CallerDep) -> Response:
    return _policies(request, caller, True)


@router.get(
    f"/{POLICIES}/{{policy_key}}",
    summary="Get a unifiedRoleManagementPolicy",
    openapi_extra=access(SIGNED_IN),
)
def get_policy(policy_key: str, request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request, expandable=("rules",))
    with caller.read() as ctx:
        item = _policy(ctx, _settings(ctx, policy_key), opts.expand)
    return entity_response(request, POLICIES, item, opts)


# --- rules ------------------------------------------------------------------------------------


@router.get(
    f"/{POLICIES}/{{policy_key}}/rules",
    summary="List the 17 rules of a policy",
    openapi_extra=access(SIGNED_IN),
)
def list_rules(policy_key: str, request: Request, caller: CallerDep) -> Response:
    opts = options(request, fields=rule_items.RULE_FIELDS, allowed=NO_EXPAND)
    with caller.read() as ctx:
        settings = _settings(ctx, policy_key)
        items = rule_items.rules(settings, ctx.settings.approval_timeout)
    return memory_collection(
        request,
        opts,
        items=items,
        fields=rule_items.RULE_FIELDS,
        key=_key,
        context=f"{POLICIES}('{policy_key}')/rules",
    )


def _spec(rule_id: str) -> catalogue.RuleSpec:
    spec = catalogue.RULES_BY_ID.get(rule_id)
    if spec is None:
        raise not_found(f"Rule {rule_id!r} does not exist.")
    return spec


@router.get(
    f"/{POLICIES}/{{policy_key}}/rules/{{rule_id}}",
    summary="Get a rule of a policy",
    openapi_extra=access(SIGNED_IN),
)
def get_rule(policy_key: str, rule_id: str, request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request)
    spec = _spec(rule_id)
    with caller.read() as ctx:
        item = rule_items.rule(_settings(ctx, policy_key), spec, ctx.settings.approval_timeout)
    return entity_response(request, f"{POLICIES}('{policy_key}')/rules", item, opts)


@router.patch(
    f"/{POLICIES}/{{policy_key}}/rules/{{rule_id}}",
    openapi_extra=access(MANAGER),
    status_code=204,
    summary="Update a rule of a policy (the body carries the rule's @odata.type); 204",
)
def patch_rule(
    policy_key: str,
    rule_id: str,
    request: Request,
    caller: CallerDep,
    body: Annotated[Any, Body()] = None,
) -> Response:
    parse_options(request.query_params.multi_items(), allowed=frozenset())
    spec = _spec(rule_id)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    reject_unstorable(body)
    with caller.unit() as ctx:
        settings = _settings(ctx, policy_key)
        changes = rule_patch.changes_for(spec, body, settings, ctx.settings.approval_timeout)
        try:
            update = RoleSettingsUpdate(**changes)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise bad_request(f"{rule_id}: {first.get('msg')}.") from None
        policies.update_role_settings(ctx, settings.directory_id, settings.role_id, update)
    return Response(status_code=204)


# --- policy assignments -----------------------------------------------------------------------


def _assignment(ctx: Ctx, settings: RoleSettings, expand: Mapping[str, Expand]) -> Item:
    item = policy_items.policy_assignment(settings)
    spec = expand.get("policy")
    if spec is not None:
        item["policy"] = project(_policy(ctx, settings, spec.expand), spec.select)
    return item


def _assignments(request: Request, caller: CallerDep, count_only: bool) -> Response:
    opts: QueryOptions = options(
        request,
        fields=policy_items.ASSIGNMENT_FIELDS,
        expandable=("policy",),
        allowed=COUNT_OPTIONS if count_only else LIST,
    )
    _check_policy_expand(opts.expand)
    with caller.read() as ctx:
        rows = policies.list_role_settings(ctx, directory_of(ctx))
        items = [_assignment(ctx, s, opts.expand) for s in rows]
    return memory_collection(
        request,
        opts,
        items=items,
        fields=policy_items.ASSIGNMENT_FIELDS,
        key=_key,
        context=ASSIGNMENTS,
        count_only=count_only,
    )


def _check_policy_expand(expand: Mapping[str, Expand]) -> None:
    spec = expand.get("policy")
    if spec is not None and set(spec.expand) - {"rules"}:
        raise ODataError("Inside policy only $expand=rules is supported.", unsupported=True)


@router.get(
    f"/{ASSIGNMENTS}",
    summary="List unifiedRoleManagementPolicyAssignments",
    openapi_extra=access(READER),
)
def list_policy_assignments(request: Request, caller: CallerDep) -> Response:
    return _assignments(request, caller, False)


@router.get(
    f"/{ASSIGNMENTS}/$count",
    summary="Count unifiedRoleManagementPolicyAssignments",
    openapi_extra=access(READER),
)
def count_policy_assignments(request: Request, caller: CallerDep) -> Response:
    return _assignments(request, caller, True)


@router.get(
    f"/{ASSIGNMENTS}/{{assignment_key}}",
    summary="Get a policy assignment",
    openapi_extra=access(SIGNED_IN),
)
def get_policy_assignment(assignment_key: str, request: Request, caller: CallerDep) -> Response:
    opts = entity_options(request, expandable=("policy",))
    _check_policy_expand(opts.expand)
    parsed = policy_items.parse_assignment_id(assignment_key)
    with caller.read() as ctx:
        if parsed is None or parsed[0] != directory_of(ctx):
            raise not_found(f"Policy assignment {assignment_key!r} does not exist.")
        settings = policies.get_role_settings(ctx, parsed[0], parsed[1])
        item = _assignment(ctx, settings, opts.expand)
    return entity_response(request, ASSIGNMENTS, item, opts)
