"""role{Eligibility,Assignment}Schedules and their Instances over plain HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.factories import GA, HELPDESK_ADMIN, PASSWORD_ADMIN, Env
from tests.graph.helpers import RM, Graph, World, assert_graph_error

COLLECTIONS = [
    "roleEligibilitySchedules",
    "roleAssignmentSchedules",
    "roleEligibilityScheduleInstances",
    "roleAssignmentScheduleInstances",
]


def test_schedules_are_current_and_future_instances_are_live(
    graph: Graph, world: World, env: Env
) -> None:
    later = env.eligible(world.bob, HELPDESK_ADMIN, start=env.now + timedelta(days=1))
    ended = env.eligible(world.bob, PASSWORD_ADMIN, start=env.now - timedelta(days=2), end=env.now)
    active = env.activated(world.alice, HELPDESK_ADMIN, duration=timedelta(hours=2))
    admin = graph.token(world.admin)
    schedules = graph.ok(admin, f"{RM}/roleEligibilitySchedules")["value"]
    ids = {s["id"] for s in schedules}
    assert str(later.id) in ids and str(ended.id) not in ids
    instances = graph.ok(admin, f"{RM}/roleEligibilityScheduleInstances")["value"]
    assert str(later.id) not in {i["id"] for i in instances}
    live = graph.ok(admin, f"{RM}/roleAssignmentScheduleInstances/{active.id}")
    assert live["@odata.type"] == "#microsoft.graph.unifiedRoleAssignmentScheduleInstance"
    assert (live["assignmentType"], live["memberType"]) == ("Activated", "Direct")
    assert live["roleAssignmentScheduleId"] == str(active.id)
    assert live["endDateTime"] == (env.now + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    permanent = graph.ok(
        admin,
        f"{RM}/roleAssignmentSchedules",
        **{"$filter": f"principalId eq '{world.admin.id}' and roleDefinitionId eq '{GA}'"},
    )["value"]
    assert len(permanent) == 1
    assert permanent[0]["assignmentType"] == "Assigned"
    assert permanent[0]["scheduleInfo"]["expiration"]["type"] == "noExpiration"
    env.clock.advance(timedelta(hours=3))
    admin = graph.token(world.admin)
    assert_graph_error(
        graph.get(admin, f"{RM}/roleAssignmentScheduleInstances/{active.id}"),
        404,
        "Request_ResourceNotFound",
    )


@pytest.mark.parametrize("name", COLLECTIONS)
def test_filter_by_current_user_and_who_may_list_what(
    graph: Graph, world: World, name: str
) -> None:
    alice = graph.token(world.alice)
    mine = graph.ok(alice, f"{RM}/{name}/filterByCurrentUser(on='principal')")
    assert all(item["principalId"] == str(world.alice.id) for item in mine["value"])
    assert mine["@odata.context"].startswith(
        "http://testserver/v1.0/$metadata#Collection(microsoft.graph.unifiedRole"
    )
    assert_graph_error(graph.get(alice, f"{RM}/{name}"), 403, "Authorization_RequestDenied")
    assert_graph_error(graph.get(alice, f"{RM}/{name}/$count"), 403, "Authorization_RequestDenied")
    assert_graph_error(
        graph.get(alice, f"{RM}/{name}/filterByCurrentUser(on='approver')"),
        400,
        "Request_BadRequest",
    )
    admin = graph.token(world.admin)
    everyone = graph.ok(admin, f"{RM}/{name}")
    assert (
        everyone["@odata.context"]
        == f"http://testserver/v1.0/$metadata#roleManagement/directory/{name}"
    )
    for item in everyone["value"]:
        got = graph.ok(admin, f"{RM}/{name}/{item['id']}")
        assert got == {
            "@odata.context": f"http://testserver/v1.0/$metadata#roleManagement/directory/{name}/$entity",
            **item,
        }
        if item["principalId"] != str(world.alice.id):
            assert_graph_error(
                graph.get(alice, f"{RM}/{name}/{item['id']}"), 403, "Authorization_RequestDenied"
            )
    assert_graph_error(
        graph.get(admin, f"{RM}/{name}/{uuid.uuid4()}"), 404, "Request_ResourceNotFound"
    )
    assert_graph_error(graph.get(admin, f"{RM}/{name}/x"), 404, "Request_ResourceNotFound")


def test_paging_with_top_next_links_and_count(graph: Graph, world: World, env: Env) -> None:
    people = [env.user(world.directory, f"p{n}") for n in range(7)]
    for person in people:
        env.eligible(person, HELPDESK_ADMIN)
    admin = graph.token(world.admin)
    flt = f"roleDefinitionId eq {HELPDESK_ADMIN}"
    first = graph.ok(
        admin,
        f"{RM}/roleEligibilitySchedules",
        **{"$filter": flt, "$top": "3", "$count": "true", "$select": "principalId"},
    )
    assert first["@odata.count"] == 8  # alice and the seven
    seen = [i["principalId"] for i in first["value"]]
    assert set(first["value"][0]) == {"@odata.type", "id", "principalId"}
    link = first["@odata.nextLink"]
    assert "%24skiptoken=" in link or "$skiptoken=" in link
    pages = 1
    while link:
        page = graph.client.get(link, headers={"Authorization": f"Bearer {admin}"}).json()
        seen += [i["principalId"] for i in page["value"]]
        link = page.get("@odata.nextLink")
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted([str(p.id) for p in people] + [str(world.alice.id)])
    count = graph.client.get(
        f"{RM}/roleEligibilitySchedules/$count",
        params={"$filter": flt},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert (count.status_code, count.text) == (200, "8")
    assert_graph_error(
        graph.get(admin, f"{RM}/roleEligibilitySchedules", **{"$skiptoken": "garbage"}),
        400,
        "BadRequest",
    )


def test_expand_select_and_filters_on_every_kind_of_property(
    graph: Graph, world: World, env: Env
) -> None:
    env.activated(world.alice, PASSWORD_ADMIN, duration=timedelta(hours=1))
    admin = graph.token(world.admin)
    url = f"{RM}/roleAssignmentScheduleInstances"
    got = graph.ok(
        admin,
        url,
        **{
            "$filter": "assignmentType eq 'Activated' and endDateTime le 2026-01-05T11:00:00+01:00",
            "$expand": "principal($select=userPrincipalName),roleDefinition",
        },
    )
    assert [
        (i["principal"]["userPrincipalName"], i["roleDefinition"]["displayName"])
        for i in got["value"]
    ] == [(world.alice.user_principal_name, "Password Administrator")]
    assert set(got["value"][0]["principal"]) == {"@odata.type", "id", "userPrincipalName"}
    assert graph.ok(admin, url, **{"$filter": "endDateTime eq null and directoryScopeId eq '/'"})[
        "value"
    ]
    assert (
        graph.ok(admin, url, **{"$filter": "memberType ne 'Direct' or appScopeId ne null"})["value"]
        == []
    )
    schedules = f"{RM}/roleEligibilitySchedules"
    assert graph.ok(
        admin,
        schedules,
        **{
            "$filter": "scheduleInfo/startDateTime le 2026-01-05T09:00:00Z "
            "and status eq 'Provisioned'"
        },
    )["value"]
    for bad, code in (
        ({"$filter": "startDateTime ge 2026-01-05T09:00:00"}, "BadRequest"),
        ({"$filter": "displayName eq 'x'"}, "Request_UnsupportedQuery"),
        ({"$filter": "principalId gt 'x'"}, "Request_UnsupportedQuery"),
        ({"$expand": "activatedUsing"}, "Request_UnsupportedQuery"),
        ({"$expand": "principal($expand=manager)"}, "Request_UnsupportedQuery"),
        ({"$select": "nope"}, "BadRequest"),
        ({"$orderby": "startDateTime"}, "Request_UnsupportedQuery"),
        ({"top": "1"}, "Request_UnsupportedQuery"),
    ):
        assert_graph_error(graph.get(admin, url, **bad), 400, code)
