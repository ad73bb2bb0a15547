"""roleAssignmentScheduleRequests and roleEligibilityScheduleRequests over plain HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

from openpim.assignments.models import Assignment, Eligibility
from openpim.policies import service as policies
from openpim.policies.schemas import RoleSettingsUpdate
from tests.factories import HELPDESK_ADMIN, PASSWORD_ADMIN, PRA, Env
from tests.graph.helpers import (
    ASSIGNMENT_REQUESTS,
    ELIGIBILITY_REQUESTS,
    Graph,
    World,
    activation,
    assert_graph_error,
)

TOTP = "X-OpenPIM-TOTP"


def _iso(env: Env, delta: timedelta = timedelta(0)) -> str:
    return (env.now + delta).isoformat().replace("+00:00", "Z")


def _settings(env: Env, world: World, role: uuid.UUID, **changes: object) -> None:
    with env.ctx() as ctx:
        policies.update_role_settings(ctx, world.directory.id, role, RoleSettingsUpdate(**changes))


def test_self_activation_with_ticket_answers_201_with_the_request(
    graph: Graph, world: World, env: Env
) -> None:
    token = graph.token(world.alice)
    response = graph.post(
        token,
        ASSIGNMENT_REQUESTS,
        activation(world.alice.id, HELPDESK_ADMIN, ticket=("INC-1", "ServiceNow")),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["@odata.context"].endswith(
        "/v1.0/$metadata#roleManagement/directory/roleAssignmentScheduleRequests/$entity"
    )
    assert body["@odata.type"] == "#microsoft.graph.unifiedRoleAssignmentScheduleRequest"
    assert (body["status"], body["action"]) == ("Provisioned", "selfActivate")
    assert body["ticketInfo"] == {"ticketNumber": "INC-1", "ticketSystem": "ServiceNow"}
    assert body["scheduleInfo"]["expiration"] == {
        "type": "afterDateTime",
        "endDateTime": _iso(env, timedelta(hours=1)),
        "duration": None,
    }
    assert body["createdBy"]["user"]["id"] == str(world.alice.id)
    got = graph.ok(token, f"{ASSIGNMENT_REQUESTS}/{body['id']}")
    assert got["id"] == body["id"] and got["targetScheduleId"] == body["targetScheduleId"]


def test_durations_the_sdk_way_and_end_dates_and_defaults(
    graph: Graph, world: World, env: Env
) -> None:
    token = graph.token(world.alice)
    sdk = graph.post(
        token, ASSIGNMENT_REQUESTS, activation(world.alice.id, HELPDESK_ADMIN, duration="2:30:00")
    )
    assert sdk.json()["scheduleInfo"]["expiration"]["endDateTime"] == _iso(
        env, timedelta(hours=2, minutes=30)
    )
    body = activation(world.alice.id, PASSWORD_ADMIN, duration=None)
    unspecified = graph.post(token, ASSIGNMENT_REQUESTS, body)
    # Not specified: the role's activation maximum (8 hours by default).
    assert unspecified.json()["scheduleInfo"]["expiration"]["endDateTime"] == _iso(
        env, timedelta(hours=8)
    )


def test_activation_ending_at_a_date_and_starting_later(
    graph: Graph, world: World, env: Env
) -> None:
    token = graph.token(world.alice)
    body = activation(
        world.alice.id, HELPDESK_ADMIN, duration=None, start=_iso(env, timedelta(hours=1))
    )
    body["scheduleInfo"]["expiration"] = {
        "type": "afterDateTime",
        "endDateTime": _iso(env, timedelta(hours=3)),
    }
    response = graph.post(token, ASSIGNMENT_REQUESTS, body)
    assert response.status_code == 201, response.text
    assert response.json()["scheduleInfo"]["startDateTime"] == _iso(env, timedelta(hours=1))


def test_mfa_is_the_native_rule_with_the_code_in_a_header(
    graph: Graph, world: World, env: Env
) -> None:
    no_proof = graph.token(world.alice, mfa=False)
    body = activation(world.alice.id, HELPDESK_ADMIN)
    refused = assert_graph_error(
        graph.post(no_proof, ASSIGNMENT_REQUESTS, body),
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
    )
    assert '["MfaRule"]' in refused["message"]
    assert refused["innerError"]["openpim-code"] == "mfa_required"
    wrong = graph.post(no_proof, ASSIGNMENT_REQUESTS, body, {TOTP: "000000"})
    assert (
        '["MfaRule"]'
        in assert_graph_error(wrong, 400, "RoleAssignmentRequestPolicyValidationFailed")["message"]
    )
    good = graph.post(no_proof, ASSIGNMENT_REQUESTS, body, {TOTP: env.totp(world.alice)})
    assert good.status_code == 201, good.text


def test_policy_failures_name_the_rule(graph: Graph, world: World, env: Env) -> None:
    token = graph.token(world.alice)
    _settings(env, world, HELPDESK_ADMIN, require_ticket_on_activation=True)
    cases = [
        (activation(world.alice.id, HELPDESK_ADMIN, justification=None), "JustificationRule"),
        (activation(world.alice.id, HELPDESK_ADMIN), "TicketingRule"),
        (activation(world.alice.id, PASSWORD_ADMIN, duration="PT9H"), "ExpirationRule"),
        (activation(world.alice.id, PRA), "EligibilityRule"),
    ]
    for body, rule in cases:
        error = assert_graph_error(
            graph.post(token, ASSIGNMENT_REQUESTS, body),
            400,
            "RoleAssignmentRequestPolicyValidationFailed",
        )
        assert error["message"].startswith(f'The following policy rules failed: ["{rule}"]')
    never = activation(world.alice.id, PASSWORD_ADMIN, duration=None)
    never["scheduleInfo"] = {"expiration": {"type": "noExpiration"}}
    error = assert_graph_error(
        graph.post(token, ASSIGNMENT_REQUESTS, never),
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
    )
    assert '["ExpirationRule"]' in error["message"]


def test_exists_too_short_and_pending_codes(graph: Graph, world: World, env: Env) -> None:
    token = graph.token(world.alice)
    assert (
        graph.post(
            token, ASSIGNMENT_REQUESTS, activation(world.alice.id, HELPDESK_ADMIN)
        ).status_code
        == 201
    )
    again = graph.post(token, ASSIGNMENT_REQUESTS, activation(world.alice.id, HELPDESK_ADMIN))
    assert_graph_error(again, 400, "RoleAssignmentExists")
    deactivate = activation(world.alice.id, HELPDESK_ADMIN, action="selfDeactivate", duration=None)
    assert_graph_error(
        graph.post(token, ASSIGNMENT_REQUESTS, deactivate), 400, "ActiveDurationTooShort"
    )
    _settings(env, world, PASSWORD_ADMIN, require_approval_on_activation=True)
    first = graph.post(token, ASSIGNMENT_REQUESTS, activation(world.alice.id, PASSWORD_ADMIN))
    assert (first.status_code, first.json()["status"]) == (201, "PendingApproval")
    assert first.json()["approvalId"] == first.json()["id"]
    second = graph.post(token, ASSIGNMENT_REQUESTS, activation(world.alice.id, PASSWORD_ADMIN))
    assert_graph_error(second, 400, "PendingRoleAssignmentRequest")
    admin = graph.token(world.admin)
    short = {
        "action": "adminAssign",
        "principalId": str(world.bob.id),
        "roleDefinitionId": str(HELPDESK_ADMIN),
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2M"}},
    }
    assert_graph_error(
        graph.post(admin, ELIGIBILITY_REQUESTS, short), 400, "ActiveDurationTooShort"
    )


def test_validation_only_runs_every_rule_and_changes_nothing(
    graph: Graph, world: World, env: Env
) -> None:
    token = graph.token(world.alice, mfa=False)
    body = activation(world.alice.id, HELPDESK_ADMIN, validation_only=True)
    refused = graph.post(token, ASSIGNMENT_REQUESTS, body)
    assert (
        '["MfaRule"]'
        in assert_graph_error(refused, 400, "RoleAssignmentRequestPolicyValidationFailed")[
            "message"
        ]
    )
    passed = graph.post(token, ASSIGNMENT_REQUESTS, body, {TOTP: env.totp(world.alice)})
    assert passed.status_code == 201 and passed.json()["isValidationOnly"] is True
    with env.runtime.db.reader() as s:
        assert s.query(Assignment).filter_by(principal_id=world.alice.id).count() == 0
    mine = graph.ok(token, f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='principal')")
    assert mine["value"] == []


def test_self_deactivate_extend_and_renew(graph: Graph, world: World, env: Env) -> None:
    token = graph.token(world.alice)
    graph.post(token, ASSIGNMENT_REQUESTS, activation(world.alice.id, HELPDESK_ADMIN))
    env.clock.advance(timedelta(minutes=6))
    token = graph.token(world.alice)
    done = graph.post(
        token,
        ASSIGNMENT_REQUESTS,
        activation(world.alice.id, HELPDESK_ADMIN, action="selfDeactivate", duration=None),
    )
    assert (done.status_code, done.json()["status"]) == (201, "Revoked")
    nothing = graph.post(
        token,
        ASSIGNMENT_REQUESTS,
        activation(world.alice.id, HELPDESK_ADMIN, action="selfDeactivate", duration=None),
    )
    assert_graph_error(nothing, 404, "RoleAssignmentDoesNotExist")
    env.eligible(world.bob, HELPDESK_ADMIN, duration=timedelta(days=3))
    bob = graph.token(world.bob)
    extend = activation(world.bob.id, HELPDESK_ADMIN, action="selfExtend", duration="P30D")
    asked = graph.post(bob, ELIGIBILITY_REQUESTS, extend)
    assert (asked.status_code, asked.json()["status"]) == (201, "PendingAdminDecision")
    renew = activation(world.bob.id, HELPDESK_ADMIN, action="selfRenew", duration="P30D")
    assert_graph_error(graph.post(bob, ELIGIBILITY_REQUESTS, renew), 409, "Request_Conflict")


def test_self_actions_are_for_the_callers_own_principal(graph: Graph, world: World) -> None:
    token = graph.token(world.alice)
    for_bob = activation(world.bob.id, HELPDESK_ADMIN)
    assert_graph_error(
        graph.post(token, ASSIGNMENT_REQUESTS, for_bob), 403, "Authorization_RequestDenied"
    )
    on_eligibility = activation(world.alice.id, HELPDESK_ADMIN)
    assert_graph_error(
        graph.post(token, ELIGIBILITY_REQUESTS, on_eligibility), 400, "Request_BadRequest"
    )


def test_every_admin_action_on_eligibilities(graph: Graph, world: World, env: Env) -> None:
    admin = graph.token(world.admin)
    bob = str(world.bob.id)

    def post(action: str, end: timedelta | None, **extra: object) -> dict[str, object]:
        body: dict[str, object] = {
            "@odata.type": "#microsoft.graph.unifiedRoleEligibilityScheduleRequest",
            "action": action,
            "principalId": bob,
            "roleDefinitionId": str(HELPDESK_ADMIN),
            "directoryScopeId": "/",
            "justification": f"{action} for the rota",
            **extra,
        }
        if end is not None:
            body["scheduleInfo"] = {
                "startDateTime": _iso(env),
                "expiration": {"type": "afterDateTime", "endDateTime": _iso(env, end)},
            }
        response = graph.post(admin, ELIGIBILITY_REQUESTS, body)
        assert response.status_code == 201, (action, response.text)
        assert (
            response.json()["@odata.type"]
            == "#microsoft.graph.unifiedRoleEligibilityScheduleRequest"
        )
        return dict(response.json())

    assert post("adminAssign", timedelta(days=10))["status"] == "Provisioned"
    assert post("adminUpdate", timedelta(days=20))["status"] == "Provisioned"
    assert post("adminExtend", timedelta(days=40))["status"] == "Provisioned"
    with env.runtime.db.reader() as s:
        row = s.query(Eligibility).filter_by(principal_id=world.bob.id).one()
        assert row.end_at == env.now + timedelta(days=40)
    assert post("adminRemove", None)["status"] == "Revoked"
    env.clock.advance(timedelta(days=1))
    admin = graph.token(world.admin)
    assert post("adminRenew", timedelta(days=5))["action"] == "adminRenew"
    permanent = post("adminUpdate", None, scheduleInfo={"expiration": {"type": "noExpiration"}})
    assert permanent["scheduleInfo"]["expiration"]["type"] == "noExpiration"


def test_admin_assigns_an_active_assignment(graph: Graph, world: World, env: Env) -> None:
    admin = graph.token(world.admin)
    body = {
        "action": "adminAssign",
        "principalId": str(world.bob.id),
        "roleDefinitionId": str(HELPDESK_ADMIN),
        "justification": "cover",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "P2D"}},
    }
    made = graph.post(admin, ASSIGNMENT_REQUESTS, body)
    assert made.status_code == 201, made.text
    assert_graph_error(graph.post(admin, ASSIGNMENT_REQUESTS, body), 400, "RoleAssignmentExists")
    plain = graph.token(world.alice)
    assert_graph_error(
        graph.post(plain, ASSIGNMENT_REQUESTS, body), 403, "Authorization_RequestDenied"
    )


def test_malformed_bodies_are_graph_400s(graph: Graph, world: World, env: Env) -> None:
    token = graph.token(world.alice)
    base = activation(world.alice.id, HELPDESK_ADMIN)
    naive = {**base, "scheduleInfo": {"startDateTime": "2026-01-05T09:00:00"}}
    cases = [
        ({**base, "action": "selfDestruct"}, "selfDestruct"),
        ({**base, "unknownProperty": 1}, "unknownProperty"),
        ({**base, "directoryScopeId": "/administrativeUnits/1"}, "directoryScopeId"),
        ({**base, "principalId": "nope"}, "GUID"),
        ({**base, "@odata.type": "#microsoft.graph.user"}, "@odata.type"),
        (naive, "UTC offset"),
        ({**base, "scheduleInfo": {"expiration": {"type": "afterDuration"}}}, "needs duration"),
        (
            {**base, "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "P1Y"}}},
            "Years",
        ),
        ({**base, "scheduleInfo": {"recurrence": {"pattern": {}}}}, "recurrence"),
        ([1, 2], "JSON object"),
    ]
    for body, says in cases:
        error = assert_graph_error(
            graph.post(token, ASSIGNMENT_REQUESTS, body), 400, "Request_BadRequest"
        )
        assert says in error["message"], (says, error["message"])
    raw = graph.client.post(
        ASSIGNMENT_REQUESTS,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_graph_error(raw, 400, "Request_BadRequest")
    nul = {**base, "justification": "a\u0000b"}
    assert_graph_error(graph.post(token, ASSIGNMENT_REQUESTS, nul), 400, "Request_BadRequest")
    query = graph.client.post(
        ASSIGNMENT_REQUESTS + "?$top=1", headers={"Authorization": f"Bearer {token}"}, json=base
    )
    assert_graph_error(query, 400, "Request_UnsupportedQuery")


def test_lists_filters_and_functions(graph: Graph, world: World, env: Env) -> None:
    alice = graph.token(world.alice)
    graph.post(alice, ASSIGNMENT_REQUESTS, activation(world.alice.id, HELPDESK_ADMIN))
    env.clock.advance(timedelta(minutes=1))
    _settings(env, world, PASSWORD_ADMIN, require_approval_on_activation=True)
    pending = graph.post(
        alice, ASSIGNMENT_REQUESTS, activation(world.alice.id, PASSWORD_ADMIN)
    ).json()
    admin = graph.token(world.admin)
    everyone = graph.ok(admin, ASSIGNMENT_REQUESTS, **{"$count": "true"})
    assert everyone["@odata.count"] == 2
    assert [r["action"] for r in everyone["value"]] == ["selfActivate", "selfActivate"]
    assert everyone["value"][0]["id"] == pending["id"]  # newest first
    only = graph.ok(
        admin,
        ASSIGNMENT_REQUESTS,
        **{
            "$filter": "status eq 'PendingApproval'",
            "$expand": "principal,roleDefinition",
            "$select": "id,status",
        },
    )
    assert [(r["id"], r["status"]) for r in only["value"]] == [(pending["id"], "PendingApproval")]
    assert only["value"][0]["principal"]["userPrincipalName"] == world.alice.user_principal_name
    assert only["value"][0]["roleDefinition"]["displayName"] == "Password Administrator"
    assert "justification" not in only["value"][0]
    assert (
        graph.client.get(
            f"{ASSIGNMENT_REQUESTS}/$count", headers={"Authorization": f"Bearer {admin}"}
        ).text
        == "2"
    )
    assert graph.ok(admin, ELIGIBILITY_REQUESTS)["value"] == []
    approver = graph.ok(admin, f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='approver')")
    assert [r["id"] for r in approver["value"]] == [pending["id"]]
    assert approver["@odata.context"].endswith(
        "$metadata#Collection(microsoft.graph.unifiedRoleAssignmentScheduleRequest)"
    )
    mine = graph.ok(
        alice, f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='principal')", **{"$top": "1"}
    )
    assert len(mine["value"]) == 1 and "@odata.nextLink" in mine
    nxt = graph.client.get(
        mine["@odata.nextLink"], headers={"Authorization": f"Bearer {alice}"}
    ).json()
    assert len(nxt["value"]) == 1 and "@odata.nextLink" not in nxt
    created = graph.ok(alice, f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='createdBy')")
    assert len(created["value"]) == 2
    assert (
        graph.ok(alice, f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='approver')")["value"] == []
    )
    assert_graph_error(graph.get(alice, ASSIGNMENT_REQUESTS), 403, "Authorization_RequestDenied")
    assert_graph_error(
        graph.get(alice, f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='everyone')"),
        400,
        "Request_BadRequest",
    )
    assert_graph_error(
        graph.get(alice, f"{ELIGIBILITY_REQUESTS}/{pending['id']}"), 404, "Request_ResourceNotFound"
    )
    assert_graph_error(
        graph.get(alice, f"{ASSIGNMENT_REQUESTS}/{uuid.uuid4()}"), 404, "Request_ResourceNotFound"
    )
    assert_graph_error(
        graph.get(alice, f"{ASSIGNMENT_REQUESTS}/not-an-id"), 404, "Request_ResourceNotFound"
    )
    bob = graph.token(world.bob)
    assert_graph_error(
        graph.get(bob, f"{ASSIGNMENT_REQUESTS}/{pending['id']}"), 403, "Authorization_RequestDenied"
    )


def test_cancel_answers_204(graph: Graph, world: World, env: Env) -> None:
    _settings(env, world, PASSWORD_ADMIN, require_approval_on_activation=True)
    alice = graph.token(world.alice)
    pending = graph.post(
        alice, ASSIGNMENT_REQUESTS, activation(world.alice.id, PASSWORD_ADMIN)
    ).json()
    bob = graph.token(world.bob)
    assert_graph_error(
        graph.post(bob, f"{ASSIGNMENT_REQUESTS}/{pending['id']}/cancel"),
        403,
        "Authorization_RequestDenied",
    )
    assert_graph_error(
        graph.post(alice, f"{ELIGIBILITY_REQUESTS}/{pending['id']}/cancel"),
        404,
        "Request_ResourceNotFound",
    )
    done = graph.post(alice, f"{ASSIGNMENT_REQUESTS}/{pending['id']}/cancel")
    assert done.status_code == 204 and done.content == b""
    assert graph.ok(alice, f"{ASSIGNMENT_REQUESTS}/{pending['id']}")["status"] == "Canceled"
    again = graph.post(alice, f"{ASSIGNMENT_REQUESTS}/{pending['id']}/cancel")
    assert_graph_error(again, 409, "Request_Conflict")
