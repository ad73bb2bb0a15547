"""roleDefinitions, users, me, auditLogs/directoryAudits, and the envelope of every /v1.0 path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import GA, HELPDESK_ADMIN, Env
from tests.graph.helpers import (
    ASSIGNMENT_REQUESTS,
    RM,
    Graph,
    V,
    World,
    activation,
    assert_graph_error,
    bearer,
)


def test_role_definitions(graph: Graph, world: World) -> None:
    token = graph.token(world.bob)
    roles = graph.ok(token, f"{RM}/roleDefinitions")
    assert (
        roles["@odata.context"]
        == "http://testserver/v1.0/$metadata#roleManagement/directory/roleDefinitions"
    )
    names = [r["displayName"] for r in roles["value"]]
    assert names == sorted(names, key=str.casefold) and "Global Administrator" in names
    ga = graph.ok(token, f"{RM}/roleDefinitions/{GA}")
    assert (ga["templateId"], ga["isBuiltIn"], ga["isEnabled"]) == (str(GA), True, True)
    found = graph.ok(
        token,
        f"{RM}/roleDefinitions",
        **{
            "$filter": f"displayName eq 'Global Administrator' or id eq {HELPDESK_ADMIN}",
            "$select": "displayName",
        },
    )
    assert {r["displayName"] for r in found["value"]} == {
        "Global Administrator",
        "Helpdesk Administrator",
    }
    assert set(found["value"][0]) == {"@odata.type", "id", "displayName"}
    paged = graph.ok(token, f"{RM}/roleDefinitions", **{"$top": "2", "$count": "true"})
    assert len(paged["value"]) == 2 and paged["@odata.count"] == len(names)
    rest = graph.client.get(paged["@odata.nextLink"], headers=bearer(token)).json()
    assert rest["value"][0]["displayName"] == names[2]
    count = graph.client.get(f"{RM}/roleDefinitions/$count", headers=bearer(token))
    assert count.text == str(len(names))
    assert_graph_error(
        graph.get(token, f"{RM}/roleDefinitions/not-a-guid"), 404, "Request_ResourceNotFound"
    )
    assert_graph_error(
        graph.get(token, f"{RM}/roleDefinitions", **{"$expand": "principal"}),
        400,
        "Request_UnsupportedQuery",
    )


def test_users_and_me(graph: Graph, world: World, env: Env) -> None:
    guest = env.user(world.directory, "guest", external=True)
    admin = graph.token(world.admin)
    users = graph.ok(admin, f"{V}/users", **{"$top": "2", "$count": "true"})
    assert users["@odata.count"] == 4
    upns = [u["userPrincipalName"] for u in users["value"]]
    link = users.get("@odata.nextLink")
    while link:
        page = graph.client.get(link, headers=bearer(admin)).json()
        upns += [u["userPrincipalName"] for u in page["value"]]
        link = page.get("@odata.nextLink")
    assert upns == sorted(upns) and len(upns) == 4
    guests = graph.ok(admin, f"{V}/users", **{"$filter": "userType eq 'Guest'"})["value"]
    assert [u["id"] for u in guests] == [str(guest.id)]
    by_upn = graph.ok(
        admin,
        f"{V}/users",
        **{"$filter": f"userPrincipalName eq '{world.bob.user_principal_name.upper()}'"},
    )
    assert [u["id"] for u in by_upn["value"]] == [str(world.bob.id)]
    assert graph.ok(admin, f"{V}/users/{world.bob.id}")["displayName"] == "Bob"
    assert graph.ok(admin, f"{V}/users/{world.bob.user_principal_name}")["id"] == str(world.bob.id)
    assert_graph_error(
        graph.get(admin, f"{V}/users/nobody@nowhere.example"), 404, "Request_ResourceNotFound"
    )
    bob = graph.token(world.bob)
    me = graph.ok(bob, f"{V}/me", **{"$select": "userPrincipalName,accountEnabled"})
    assert me == {
        "@odata.context": "http://testserver/v1.0/$metadata#users/$entity",
        "@odata.type": "#microsoft.graph.user",
        "id": str(world.bob.id),
        "userPrincipalName": world.bob.user_principal_name,
        "accountEnabled": True,
    }
    assert graph.ok(bob, f"{V}/users/{world.bob.id}")["id"] == str(world.bob.id)
    assert_graph_error(graph.get(bob, f"{V}/users"), 403, "Authorization_RequestDenied")
    assert_graph_error(
        graph.get(bob, f"{V}/users/{world.alice.id}"), 403, "Authorization_RequestDenied"
    )
    assert graph.client.get(f"{V}/users/$count", headers=bearer(admin)).text == "4"


def test_directory_audits_filtered_by_time(graph: Graph, world: World, env: Env) -> None:
    alice = graph.token(world.alice)
    graph.post(alice, ASSIGNMENT_REQUESTS, activation(world.alice.id, HELPDESK_ADMIN))
    env.clock.advance(timedelta(hours=2))
    admin = graph.token(world.admin)
    url = f"{V}/auditLogs/directoryAudits"
    events = graph.ok(admin, url)["value"]
    assert events, "the activation was audited"
    activated = next(e for e in events if e["activityDisplayName"] == "activation.activated")
    assert activated["initiatedBy"]["user"]["id"] == str(world.alice.id)
    assert {t["type"] for t in activated["targetResources"]} == {"User", "Role"}
    assert {d["key"] for d in activated["additionalDetails"]} >= {"justification", "requestId"}
    times = [e["activityDateTime"] for e in events]
    assert times == sorted(times, reverse=True)
    since = (env.now - timedelta(hours=1)).isoformat()
    recent = graph.ok(admin, url, **{"$filter": f"activityDateTime ge {since}"})["value"]
    assert all(e["activityDisplayName"] != "activation.activated" for e in recent)
    earlier = graph.ok(
        admin,
        url,
        **{
            "$filter": f"activityDateTime lt {since} "
            "and activityDisplayName eq 'activation.activated'"
        },
    )
    assert [e["id"] for e in earlier["value"]] == [activated["id"]]
    assert graph.ok(admin, f"{url}/{activated['id']}")["id"] == activated["id"]
    assert_graph_error(graph.get(admin, f"{url}/999999"), 404, "Request_ResourceNotFound")
    assert_graph_error(graph.get(admin, f"{url}/abc"), 404, "Request_ResourceNotFound")
    # Digits that are not ASCII ("²" passes str.isdigit but not int()) and numbers past 64 bits.
    for key in ("\u00b2", "\u0663", "99999999999999999999"):
        assert_graph_error(graph.get(admin, f"{url}/{key}"), 404, "Request_ResourceNotFound")
    for garbage in (
        {"$top": "\u00b2"},
        {"$top": "\u0663"},
        {"$filter": "id eq '\u00b2'"},
        {"$filter": "id eq '99999999999999999999'"},
        {"$filter": "id eq 99999999999999999999"},
        {"$filter": "id eq -9223372036854775809"},
        {"$filter": "id eq \u0663"},
        # Skip tokens (JSON lists of the sort key, base64) holding what no column can:
        # ["2026-01-05T00:00:00+00:00", "99999999999999999999"], ["0001-01-01T00:00:00+14:00", "5"]
        {"$skiptoken": "WyIyMDI2LTAxLTA1VDAwOjAwOjAwKzAwOjAwIiwgIjk5OTk5OTk5OTk5OTk5OTk5OTk5Il0"},
        {"$skiptoken": "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwgIjUiXQ"},
    ):
        assert_graph_error(graph.get(admin, url, **garbage), 400, "BadRequest")
    assert graph.ok(admin, url, **{"$filter": "id eq 9223372036854775807"})["value"] == []
    assert_graph_error(
        graph.get(admin, url, **{"$filter": "activityDateTime ge 2026-01-05T08:00:00"}),
        400,
        "BadRequest",
    )
    assert_graph_error(graph.get(graph.token(world.alice), url), 403, "Authorization_RequestDenied")
    count = graph.client.get(f"{url}/$count", headers=bearer(admin))
    assert int(count.text) == len(events)


def test_audit_pages_are_stable_while_events_arrive(graph: Graph, world: World, env: Env) -> None:
    admin = graph.token(world.admin)
    for n in range(5):
        env.user(world.directory, f"u{n}")
        graph.post(
            admin,
            f"{RM}/roleEligibilityScheduleRequests",
            {
                "action": "adminAssign",
                "principalId": str(world.bob.id),
                "roleDefinitionId": str(HELPDESK_ADMIN),
                "justification": str(n),
            }
            if n == 0
            else {
                "action": "adminUpdate",
                "principalId": str(world.bob.id),
                "roleDefinitionId": str(HELPDESK_ADMIN),
                "justification": str(n),
                "scheduleInfo": {
                    "expiration": {"type": "afterDuration", "duration": f"P{n + 1}0D"}
                },
            },
        )
    url = f"{V}/auditLogs/directoryAudits"
    first = graph.ok(admin, url, **{"$top": "2"})
    graph.post(
        admin,
        f"{RM}/roleEligibilityScheduleRequests",
        {
            "action": "adminRemove",
            "principalId": str(world.bob.id),
            "roleDefinitionId": str(HELPDESK_ADMIN),
        },
    )
    ids = [e["id"] for e in first["value"]]
    link = first.get("@odata.nextLink")
    while link:
        page = graph.client.get(link, headers=bearer(admin)).json()
        ids += [e["id"] for e in page["value"]]
        link = page.get("@odata.nextLink")
    assert ids == [str(n) for n in range(5, 0, -1)]


@pytest.mark.parametrize(
    "path",
    [
        f"{V}/me",
        f"{RM}/roleDefinitions",
        f"{V}/auditLogs/directoryAudits",
        f"{ASSIGNMENT_REQUESTS}/filterByCurrentUser(on='principal')",
    ],
)
def test_without_a_valid_token_the_answer_is_a_graph_401(graph: Graph, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer forged"}):
        response = graph.client.get(path, headers=headers)
        assert_graph_error(response, 401, "InvalidAuthenticationToken")
        assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_addresses_methods_and_ids_in_the_envelope(graph: Graph, world: World) -> None:
    token = graph.token(world.admin)
    error = assert_graph_error(graph.get(token, f"{V}/groups"), 404, "Request_ResourceNotFound")
    assert "'groups'" in error["message"]
    denied = graph.client.delete(f"{V}/users", headers=bearer(token))
    assert_graph_error(denied, 405, "Request_BadRequest")
    assert denied.headers["allow"] == "GET"
    traced = graph.client.get(
        f"{V}/me",
        headers={**bearer(token), "client-request-id": "abc-123", "X-Request-ID": "req-9"},
    )
    assert traced.status_code == 200 and traced.headers["x-request-id"] == "req-9"
    failed = graph.client.get(
        f"{V}/users/nobody", headers={**bearer(token), "client-request-id": "abc-123"}
    )
    inner = failed.json()["error"]["innerError"]
    assert inner["client-request-id"] == "abc-123"
    assert inner["date"] == "2026-01-05T09:00:00"
    assert_graph_error(
        graph.get(token, f"{V}/me", **{"$filter": "id eq 1"}), 400, "Request_UnsupportedQuery"
    )
