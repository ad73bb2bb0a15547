"""roleManagementPolicies, their 17 rules (both ways), and roleManagementPolicyAssignments."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from openpim.policies.notification_rules import Level, NotificationRule, RecipientType, Stage
from openpim.policies.service import read_role_settings
from openpim.policies.settings import RoleSettings
from tests.factories import GA, HELPDESK_ADMIN, Env
from tests.graph.helpers import POLICIES, POLICY_ASSIGNMENTS, Graph, World, assert_graph_error

NS = "#microsoft.graph."


def _pid(world: World, role: uuid.UUID = HELPDESK_ADMIN) -> str:
    return f"DirectoryRole_{world.directory.id}_{role}"


def _settings(env: Env, world: World, role: uuid.UUID = HELPDESK_ADMIN) -> RoleSettings:
    with env.runtime.db.reader() as s:
        return read_role_settings(s, world.directory.id, role)


def test_a_policy_with_its_seventeen_rules(graph: Graph, world: World) -> None:
    token = graph.token(world.alice)
    policy = graph.ok(token, f"{POLICIES}/{_pid(world)}", **{"$expand": "rules"})
    assert (policy["scopeId"], policy["scopeType"]) == ("/", "DirectoryRole")
    rules = {r["id"]: r for r in policy["rules"]}
    assert len(rules) == 17
    assert rules["Expiration_EndUser_Assignment"] == {
        "@odata.type": NS + "unifiedRoleManagementPolicyExpirationRule",
        "id": "Expiration_EndUser_Assignment",
        "target": {
            "caller": "EndUser",
            "operations": ["all"],
            "level": "Assignment",
            "inheritableSettings": [],
            "enforcedSettings": [],
        },
        "isExpirationRequired": True,
        "maximumDuration": "PT8H",
    }
    assert rules["Enablement_EndUser_Assignment"]["enabledRules"] == [
        "MultiFactorAuthentication",
        "Justification",
    ]
    assert rules["Expiration_Admin_Eligibility"]["maximumDuration"] == "P365D"
    assert rules["Expiration_Admin_Assignment"]["maximumDuration"] == "P180D"
    assert rules["Approval_EndUser_Assignment"]["setting"]["isApprovalRequired"] is False
    assert rules["AuthenticationContext_EndUser_Assignment"]["isEnabled"] is False
    notes = [r for r in rules.values() if r["@odata.type"].endswith("NotificationRule")]
    assert len(notes) == 9
    # Entra's defaults: every recipient type, default recipients on, all emails, no extras.
    assert {
        (r["notificationType"], r["notificationLevel"], r["isDefaultRecipientsEnabled"])
        for r in notes
    } == {("Email", "All", True)}
    assert rules["Notification_Approver_Admin_Eligibility"]["recipientType"] == "Approver"
    assert all(r["notificationRecipients"] == [] for r in notes)
    listed = graph.ok(
        token, f"{POLICIES}/{_pid(world)}/rules", **{"$filter": "target/caller eq 'Admin'"}
    )
    assert len(listed["value"]) == 10
    one = graph.ok(token, f"{POLICIES}/{_pid(world)}/rules/Approval_EndUser_Assignment")
    assert one["@odata.type"] == NS + "unifiedRoleManagementPolicyApprovalRule"
    assert_graph_error(
        graph.get(token, f"{POLICIES}/{_pid(world)}/rules/NoSuchRule"),
        404,
        "Request_ResourceNotFound",
    )
    other = f"DirectoryRole_{uuid.uuid4()}_{HELPDESK_ADMIN}"
    assert_graph_error(graph.get(token, f"{POLICIES}/{other}"), 404, "Request_ResourceNotFound")
    assert_graph_error(graph.get(token, f"{POLICIES}/Directory_x"), 404, "Request_ResourceNotFound")
    assert_graph_error(
        graph.get(token, f"{POLICIES}/{_pid(world, uuid.uuid4())}"), 404, "Request_ResourceNotFound"
    )


def test_listing_policies_is_for_readers(graph: Graph, world: World) -> None:
    assert_graph_error(
        graph.get(graph.token(world.alice), POLICIES), 403, "Authorization_RequestDenied"
    )
    admin = graph.token(world.admin)
    listed = graph.ok(
        admin,
        POLICIES,
        **{
            "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole'",
            "$count": "true",
            "$top": "5",
        },
    )
    assert listed["@odata.count"] > 20 and len(listed["value"]) == 5 and "@odata.nextLink" in listed
    assert "rules" not in listed["value"][0]
    with_rules = graph.ok(
        admin, POLICIES, **{"$filter": f"id eq '{_pid(world)}'", "$expand": "rules($select=id)"}
    )
    assert {frozenset(r) for r in with_rules["value"][0]["rules"]} == {
        frozenset({"@odata.type", "id"})
    }


def _patch(graph: Graph, token: str, world: World, rule: str, body: dict[str, Any]) -> Any:
    return graph.patch(token, f"{POLICIES}/{_pid(world)}/rules/{rule}", body)


def test_patching_each_kind_of_rule_changes_the_role_settings(
    graph: Graph, world: World, env: Env
) -> None:
    admin = graph.token(world.admin)
    ok: list[tuple[str, dict[str, Any]]] = [
        (
            "Expiration_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyExpirationRule",
                "id": "Expiration_EndUser_Assignment",
                "isExpirationRequired": True,
                "maximumDuration": "PT4H",
                "target": {"caller": "EndUser", "level": "Assignment"},
            },
        ),
        (
            "Expiration_Admin_Eligibility",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyExpirationRule",
                "isExpirationRequired": True,
                "maximumDuration": "90 days, 0:00:00",
            },
        ),
        (
            "Expiration_Admin_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyExpirationRule",
                "isExpirationRequired": True,
                "maximumDuration": "P30D",
            },
        ),
        (
            "Enablement_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyEnablementRule",
                "enabledRules": ["Justification", "Ticketing"],
            },
        ),
        (
            "Enablement_Admin_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyEnablementRule",
                "enabledRules": ["MultiFactorAuthentication"],
            },
        ),
        (
            "Approval_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyApprovalRule",
                "setting": {
                    "isApprovalRequired": True,
                    "isApprovalRequiredForExtension": False,
                    "approvalMode": "SingleStage",
                    "approvalStages": [
                        {
                            "approvalStageTimeOutInDays": 1,
                            "isApproverJustificationRequired": True,
                            "escalationTimeInMinutes": 0,
                            "isEscalationEnabled": False,
                            "primaryApprovers": [
                                {"@odata.type": NS + "singleUser", "userId": str(world.bob.id)}
                            ],
                            "escalationApprovers": [],
                        }
                    ],
                },
            },
        ),
        (
            "Notification_Admin_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "notificationType": "Email",
                "recipientType": "Admin",
                "notificationLevel": "All",
                "isDefaultRecipientsEnabled": False,
                "notificationRecipients": ["secops@contoso.example"],
            },
        ),
        (
            "Notification_Requestor_Admin_Eligibility",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "notificationLevel": "Critical",
                "notificationRecipients": ["Audit@Contoso.example"],
            },
        ),
        (
            "Notification_Approver_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "notificationLevel": "None",
            },
        ),
    ]
    for rule, body in ok:
        response = _patch(graph, admin, world, rule, body)
        assert response.status_code == 204 and response.content == b"", (rule, response.text)
    s = _settings(env, world)
    assert s.activation_max_duration == timedelta(hours=4)
    assert (s.eligible_allow_permanent, s.eligible_max_days) == (False, 90)
    assert (s.active_allow_permanent, s.active_max_days) == (False, 30)
    assert (
        s.require_mfa_on_activation,
        s.require_justification_on_activation,
        s.require_ticket_on_activation,
    ) == (False, True, True)
    assert (s.require_mfa_on_active_assignment, s.require_justification_on_active_assignment) == (
        True,
        False,
    )
    assert (s.require_approval_on_activation, s.approver_ids) == (True, (world.bob.id,))
    assert (s.notify_default_recipients, s.notify_extra_recipients) == (
        False,
        ("secops@contoso.example",),
    )
    assignee = s.notification_rules.get(Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR)
    assert assignee == NotificationRule(True, ("Audit@contoso.example",), Level.CRITICAL)
    approver = s.notification_rules.get(Stage.ACTIVATION, RecipientType.APPROVER)
    assert approver.level == Level.NONE and approver.default_recipients
    rules = {r["id"]: r for r in graph.ok(admin, f"{POLICIES}/{_pid(world)}/rules")["value"]}
    assert rules["Expiration_EndUser_Assignment"]["maximumDuration"] == "PT4H"
    assert {
        k: rules["Notification_Requestor_Admin_Eligibility"][k]
        for k in ("notificationLevel", "isDefaultRecipientsEnabled", "notificationRecipients")
    } == {
        "notificationLevel": "Critical",
        "isDefaultRecipientsEnabled": True,
        "notificationRecipients": ["Audit@contoso.example"],
    }
    assert rules["Notification_Approver_EndUser_Assignment"]["notificationLevel"] == "None"
    assert rules["Approval_EndUser_Assignment"]["setting"]["approvalStages"][0][
        "primaryApprovers"
    ] == [{"@odata.type": NS + "singleUser", "userId": str(world.bob.id), "description": None}]
    # A rule fetched and sent back unchanged is a no-op, for every one of the 17.
    for rule in rules.values():
        assert _patch(graph, admin, world, rule["id"], rule).status_code == 204, rule["id"]
    assert _settings(env, world) == s


def test_rule_patches_that_cannot_be_honoured(graph: Graph, world: World, env: Env) -> None:
    admin = graph.token(world.admin)
    expiration = NS + "unifiedRoleManagementPolicyExpirationRule"
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (
            "Expiration_EndUser_Assignment",
            {"maximumDuration": "PT4H"},
            "Request_BadRequest",
            "@odata.type",
        ),
        (
            "Expiration_EndUser_Assignment",
            {"@odata.type": expiration, "maximumDuration": "PT72H"},
            "Request_BadRequest",
            "between",
        ),
        (
            "Expiration_EndUser_Assignment",
            {"@odata.type": expiration, "isExpirationRequired": False},
            "Request_BadRequest",
            "always",
        ),
        (
            "Expiration_Admin_Eligibility",
            {"@odata.type": expiration, "maximumDuration": "PT36H"},
            "Request_BadRequest",
            "whole number of days",
        ),
        (
            "Expiration_EndUser_Assignment",
            {"@odata.type": expiration, "id": "Other"},
            "Request_BadRequest",
            "not the rule's id",
        ),
        (
            "Expiration_EndUser_Assignment",
            {"@odata.type": expiration, "target": {"caller": "Admin"}},
            "Request_BadRequest",
            "target.caller",
        ),
        (
            "Expiration_EndUser_Assignment",
            {"@odata.type": expiration, "colour": "red"},
            "Request_BadRequest",
            "colour",
        ),
        (
            "Enablement_Admin_Eligibility",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyEnablementRule",
                "enabledRules": ["Justification"],
            },
            "Request_BadRequest",
            "nothing",
        ),
        (
            "Approval_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyApprovalRule",
                "setting": {
                    "approvalStages": [
                        {"primaryApprovers": [{"@odata.type": NS + "groupMembers", "groupId": "x"}]}
                    ]
                },
            },
            "Request_BadRequest",
            "singleUser",
        ),
        (
            "Approval_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyApprovalRule",
                "setting": {
                    "approvalStages": [
                        {
                            "primaryApprovers": [
                                {"@odata.type": NS + "singleUser", "userId": str(uuid.uuid4())}
                            ]
                        }
                    ]
                },
            },
            "Request_BadRequest",
            "not a user",
        ),
        (
            "AuthenticationContext_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyAuthenticationContextRule",
                "isEnabled": True,
            },
            "Request_BadRequest",
            "cannot be set",
        ),
        (
            "Notification_Requestor_Admin_Eligibility",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "notificationType": "Sms",
            },
            "Request_BadRequest",
            "cannot be set",
        ),
        (
            "Notification_Admin_Admin_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "recipientType": "Requestor",
            },
            "Request_BadRequest",
            "cannot be set",
        ),
        (
            "Notification_Admin_EndUser_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "notificationLevel": "Sometimes",
            },
            "Request_BadRequest",
            "All, Critical or None",
        ),
        (
            "Notification_Approver_Admin_Assignment",
            {
                "@odata.type": NS + "unifiedRoleManagementPolicyNotificationRule",
                "notificationRecipients": ["not-an-address"],
            },
            "Request_BadRequest",
            "not an email address",
        ),
    ]
    for rule, body, code, says in cases:
        error = assert_graph_error(_patch(graph, admin, world, rule, body), 400, code)
        assert says in error["message"], (rule, error["message"])
    locked = f"{POLICIES}/{_pid(world, GA)}/rules/Enablement_EndUser_Assignment"
    body = {"@odata.type": NS + "unifiedRoleManagementPolicyEnablementRule", "enabledRules": []}
    error = assert_graph_error(graph.patch(admin, locked, body), 400, "Request_BadRequest")
    assert error["innerError"]["openpim-code"] == "mfa_locked"
    plain = graph.token(world.alice)
    ok_body = {"@odata.type": expiration, "maximumDuration": "PT4H"}
    assert_graph_error(
        _patch(graph, plain, world, "Expiration_EndUser_Assignment", ok_body),
        403,
        "Authorization_RequestDenied",
    )
    assert _settings(env, world).activation_max_duration == timedelta(hours=8)


def test_policy_assignments_by_scope_and_role_with_the_policy_expanded(
    graph: Graph, world: World
) -> None:
    admin = graph.token(world.admin)
    flt = (
        f"scopeId eq '/' and scopeType eq 'DirectoryRole' "
        f"and roleDefinitionId eq '{HELPDESK_ADMIN}'"
    )
    found = graph.ok(
        admin, POLICY_ASSIGNMENTS, **{"$filter": flt, "$expand": "policy($expand=rules)"}
    )
    [assignment] = found["value"]
    assert assignment["policyId"] == _pid(world)
    assert assignment["id"] == f"{_pid(world)}_{HELPDESK_ADMIN}"
    assert len(assignment["policy"]["rules"]) == 17
    got = graph.ok(admin, f"{POLICY_ASSIGNMENTS}/{assignment['id']}", **{"$expand": "policy"})
    assert got["policy"]["id"] == _pid(world) and "rules" not in got["policy"]
    upper = flt.replace(str(HELPDESK_ADMIN), str(HELPDESK_ADMIN).upper())
    assert len(graph.ok(admin, POLICY_ASSIGNMENTS, **{"$filter": upper})["value"]) == 1
    assert_graph_error(
        graph.get(admin, POLICY_ASSIGNMENTS, **{"$expand": "policy($expand=effectiveRules)"}),
        400,
        "Request_UnsupportedQuery",
    )
    assert_graph_error(
        graph.get(admin, f"{POLICY_ASSIGNMENTS}/{_pid(world)}_{GA}"),
        404,
        "Request_ResourceNotFound",
    )
    count = graph.client.get(
        f"{POLICY_ASSIGNMENTS}/$count",
        params={"$filter": flt},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert count.text == "1"
