"""Each route family does its job over HTTP (the services' own rules are tested beside them)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.api.helpers import Api, assert_problem
from tests.factories import GLOBAL_READER, HELPDESK_ADMIN, PASSWORD_ADMIN


def test_activation_waiting_for_approval_is_202_and_an_admin_decides(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    member = api.env.user(directory, "member")
    api.env.eligible(member, PASSWORD_ADMIN)
    admin_t, member_t = api.token(admin), api.token(member)
    settings = api.patch(
        admin_t,
        f"/roles/{PASSWORD_ADMIN}/settings",
        {"require_approval_on_activation": True, "require_mfa_on_activation": False},
    )
    assert settings.status_code == 200, settings.text

    asked = api.post(
        member_t,
        "/me/activations",
        {"role_id": str(PASSWORD_ADMIN), "duration": "PT2H", "justification": "reset passwords"},
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert request["status"] == "PendingApproval"
    mine = api.get(member_t, "/requests", params={"mine": "true"}).json()["value"]
    assert [r["id"] for r in mine] == [request["id"]]
    assert api.get(member_t, f"/requests/{request['id']}").status_code == 200
    assert api.get(member_t, "/approvals").json()["value"] == []
    own = api.post(member_t, f"/requests/{request['id']}/approve", {"justification": "me"})
    assert_problem(own, 403, "cannot_approve_own_request")

    waiting = api.get(admin_t, "/approvals").json()["value"]
    assert [r["id"] for r in waiting] == [request["id"]]
    approved = api.post(admin_t, f"/requests/{request['id']}/approve", {"justification": "ok"})
    assert approved.status_code == 200 and approved.json()["status"] == "Provisioned"
    again = api.post(admin_t, f"/requests/{request['id']}/deny", {"justification": "late"})
    assert_problem(again, 409, "request_already_decided")
    check = api.get(member_t, f"/access/users/{member.id}/roles/{PASSWORD_ADMIN}")
    assert check.json() == {"active": True}


def test_a_requester_can_cancel_their_pending_request(api: Api) -> None:
    directory, _ = api.env.pim_directory()
    member = api.env.user(directory, "member")
    request = api.env.pending_request(member, HELPDESK_ADMIN)
    token = api.token(member)
    cancelled = api.post(token, f"/requests/{request.id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "Canceled"


def test_admin_assignment_lifecycle(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    member = api.env.user(directory, "member")
    token = api.token(admin)
    pair = {"principal_id": str(member.id), "role_id": str(HELPDESK_ADMIN)}
    end = (api.env.now + timedelta(days=30)).isoformat()
    later = (api.env.now + timedelta(days=60)).isoformat()
    assert api.post(token, "/assignments", {**pair, "end_at": end}).status_code == 201
    listed = api.get(token, "/members", params={"user_id": str(member.id)}).json()["value"]
    assert [(m["member_type"], m["role_id"]) for m in listed] == [("Eligible", pair["role_id"])]
    assert api.post(token, "/assignments/extend", {**pair, "end_at": later}).status_code == 200
    assert api.post(token, "/assignments/make-permanent", pair).status_code == 200
    roles = api.get(token, f"/users/{member.id}/roles").json()["value"]
    # Make permanent: always active, no end.
    assert [(r["member_type"], r["end_at"]) for r in roles] == [("Active", None)]
    assert api.post(token, "/assignments/make-eligible", pair).status_code == 200
    removed = api.post(token, "/assignments/remove", {**pair, "member_type": "Eligible"})
    assert removed.status_code == 200, removed.text
    assert api.get(token, f"/roles/{HELPDESK_ADMIN}/members").json()["value"] == []


def test_roles_and_settings(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    created = api.post(token, "/roles", {"display_name": "Break glass", "description": "x"})
    assert created.status_code == 201, created.text
    role_id = created.json()["id"]
    assert (
        api.patch(token, f"/roles/{role_id}", {"display_name": "Glass"}).json()["display_name"]
        == "Glass"
    )
    names = [r["display_name"] for r in api.get(token, "/roles").json()["value"]]
    assert "Glass" in names and "Global Administrator" in names
    dup = api.post(token, "/roles", {"display_name": "glass"})
    assert_problem(dup, 409, "role_name_taken")
    all_settings = api.get(token, "/role-settings").json()["value"]
    assert any(s["role_id"] == role_id for s in all_settings)
    locked = api.patch(token, f"/roles/{GLOBAL_READER}/settings", {"eligible_max_days": 0})
    assert_problem(locked, 422, "setting_out_of_bounds")
    assert api.delete(token, f"/roles/{role_id}").status_code == 204
    assert_problem(api.get(token, f"/roles/{role_id}"), 404, "role_not_found")


def test_directory_and_users(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    token = api.token(admin)
    assert api.get(token, "/directory").json()["domains"] == [api.env.domain_of(directory)]
    added = api.post(token, "/directory/domains", {"domain": "Fabrikam.example"})
    assert added.status_code == 201 and added.json()["domain"] == "fabrikam.example"
    user = api.post(
        token, "/users", {"user_principal_name": "ann@fabrikam.example", "display_name": "Ann"}
    ).json()
    assert user["account_kind"] == "organizational"
    page = api.get(token, "/users", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_after"]
    assert api.post(token, f"/users/{user['id']}/disable").json()["enabled"] is False
    assert api.post(token, f"/users/{user['id']}/enable").json()["enabled"] is True
    in_use = api.delete(token, "/directory/domains/fabrikam.example")
    assert_problem(in_use, 409, "domain_in_use")


def test_pim_wizard(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    other = api.env.user(directory, "other")
    api.env.permanent(other, HELPDESK_ADMIN)
    token = api.token(admin)
    roles = api.get(token, "/pim/wizard").json()["value"]
    helpdesk = next(r for r in roles if r["role_id"] == str(HELPDESK_ADMIN))
    assert helpdesk["permanent_members"] == [
        {"user_id": str(other.id), "user_principal_name": other.user_principal_name}
    ]
    pair = {"principal_id": str(other.id), "role_id": str(HELPDESK_ADMIN)}
    converted = api.post(token, "/pim/wizard/convert", {"members": [pair]})
    assert converted.json() == {"converted": 1}


def test_access_checks_stay_inside_the_callers_directory(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    member = api.env.user(directory, "member")
    elsewhere = api.env.user(api.env.directory("Fabrikam"), "stranger")
    api.env.activated(elsewhere, GLOBAL_READER)
    token = api.token(admin)
    assert api.get(token, f"/access/users/{member.id}/roles").json()["role_ids"] == []
    foreign = api.get(token, f"/access/users/{elsewhere.id}/roles/{GLOBAL_READER}")
    assert_problem(foreign, 404, "user_not_found")
    naive = api.get(token, f"/access/users/{member.id}/roles", params={"at": "2026-01-05T09:00"})
    assert_problem(naive, 422, "invalid_request")


def test_audit_over_http(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    for name in ("Ops A", "Ops B", "Ops C"):
        assert api.post(token, "/roles", {"display_name": name}).status_code == 201
    first = api.get(token, "/audit/events", params={"action": "role.created", "limit": 2}).json()
    assert [e["role"] for e in first["items"]] == ["Ops C", "Ops B"]
    assert first["items"][0]["occurred_at"] == "2026-01-05T09:00:00Z"
    assert first["items"][0]["detail"]["display_name"] == "Ops C"
    second = api.get(
        token,
        "/audit/events",
        params={"action": "role.created", "limit": 2, "cursor": first["next_cursor"]},
    ).json()
    assert [e["role"] for e in second["items"]] == ["Ops A"] and second["next_cursor"] is None
    assert_problem(api.get(token, "/audit/events", params={"cursor": "zz"}), 422, "invalid_cursor")

    exported = api.get(token, "/audit/events.csv", params={"action": "role.created"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["role"] for r in rows] == ["Ops C", "Ops B", "Ops A"]

    verified = api.get(token, "/audit/verify").json()
    assert verified["ok"] is True and verified["checked"] == verified["last_seq"] >= 3
    mine = api.get(token, "/me/audit").json()["items"]
    assert {e["action"] for e in mine} == {"role.created"}
    assert api.get(token, "/me/audit.csv").text.count("role.created") == 3
