"""The access review routes over HTTP: create, decide (and a clear 409), complete, apply, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpim.assignments.models import MemberType
from tests.alerts.api_support import api4  # noqa: F401 - fixture
from tests.alerts.helpers import grant, pim_setup
from tests.api.helpers import Api, assert_problem
from tests.factories import GLOBAL_READER, USER_ADMIN


def test_a_review_over_http(api4: Api) -> None:  # noqa: F811
    api = api4
    directory, admin = pim_setup(api.env)
    alice = api.env.user(directory, "alice")
    bert = api.env.user(directory, "bert")
    member = api.env.user(directory, "member", last_sign_in_at=api.env.now - timedelta(days=99))
    reader = api.env.user(directory, "reader")
    grant(api.env, member, USER_ADMIN)
    grant(api.env, reader, GLOBAL_READER, MemberType.ACTIVE)
    admin_t, alice_t, bert_t = api.token(admin), api.token(alice), api.token(bert)
    reader_t, member_t = api.token(reader), api.token(member)

    body = {
        "name": "UA review", "role_ids": [str(USER_ADMIN)], "duration": "P14D",
        "reviewer_ids": [str(alice.id), str(bert.id)], "scope": "eligible",
    }  # fmt: skip
    assert_problem(api.post(reader_t, "/access-reviews", body), 403)
    bad = api.post(admin_t, "/access-reviews", {**body, "duration": "PT2H"})
    assert assert_problem(bad, 422, "invalid_duration")["field"] == "duration"
    created = api.post(admin_t, "/access-reviews", body)
    assert created.status_code == 201, created.text
    (review,) = created.json()["value"]
    assert review["status"] == "InProgress" and review["members"] == 1

    mine = api.get(alice_t, "/me/access-reviews").json()["value"]
    assert [(r["id"], r["pending_for_me"]) for r in mine] == [(review["id"], 1)]
    assert api.get(member_t, "/me/access-reviews").json()["value"] == []
    assert_problem(api.get(member_t, f"/access-reviews/{review['id']}"), 403, "not_a_reviewer")
    (item,) = api.get(alice_t, f"/access-reviews/{review['id']}/items").json()["value"]
    assert item["recommendation"] == "Deny" and "30 days" in item["recommendation_reason"]

    first = api.post(
        alice_t,
        f"/access-reviews/items/{item['id']}/decision",
        {"decision": "Deny", "reason": "unused"},
    )
    assert first.status_code == 200 and first.json()["version"] == 1
    late = api.post(
        bert_t,
        f"/access-reviews/items/{item['id']}/decision",
        {"decision": "Approve", "reason": "needed"},
    )
    problem = assert_problem(late, 409, "decision_conflict")
    assert problem["version"] == 1 and problem["decision"] == "Deny"

    ongoing = api.get(reader_t, "/access-reviews", params={"status": "InProgress"}).json()
    assert [(r["id"], r["decided"]) for r in ongoing["value"]] == [(review["id"], 1)]
    assert_problem(
        api.post(admin_t, f"/access-reviews/{review['id']}/apply"), 409, "review_not_completed"
    )
    done = api.post(admin_t, f"/access-reviews/{review['id']}/complete")
    assert done.status_code == 200 and done.json()["outcomes"] == {"Deny": 1}
    applied = api.post(admin_t, f"/access-reviews/{review['id']}/apply").json()
    assert (applied["removed"], applied["already_applied"]) == (1, False)
    again = api.post(admin_t, f"/access-reviews/{review['id']}/apply").json()
    assert (again["removed"], again["already_applied"]) == (0, True)

    exported = api.get(reader_t, f"/access-reviews/{review['id']}/results.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    (row,) = csv.DictReader(io.StringIO(exported.text))
    assert (row["decision"], row["applied_result"]) == ("Deny", "removed")
    assert api.delete(admin_t, f"/access-reviews/{review['id']}").status_code == 204
    assert_problem(api.get(reader_t, f"/access-reviews/{review['id']}"), 404, "review_not_found")
