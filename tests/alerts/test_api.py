"""The alerts routes over HTTP: readers read and scan, a PRA configures, dismisses and fixes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert

from openpim.assignments.models import Assignment, MemberType
from tests.alerts.api_support import api4  # noqa: F401 - fixture
from tests.alerts.helpers import grant, pim_setup
from tests.api.helpers import Api, assert_problem
from tests.factories import GA, SECURITY_READER

OUTSIDE = "roles_assigned_outside_pim"


def _intruder_row(api: Api, directory_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    row_id = uuid.uuid4()
    with api.env.runtime.db.unit_of_work() as s:
        s.execute(
            insert(Assignment.__table__),
            [
                {
                    "id": row_id, "directory_id": directory_id, "principal_id": user_id,
                    "role_id": GA, "start_at": api.env.now - timedelta(minutes=1),
                    "end_at": None, "request_id": None, "created_via": "sync",
                    "created_at": api.env.now, "assignment_type": "Assigned",
                    "eligibility_id": None,
                }
            ],
        )  # fmt: skip
    return row_id


def test_alerts_over_http(api4: Api) -> None:  # noqa: F811
    api = api4
    directory, admin = pim_setup(api.env)
    reader = api.env.user(directory, "reader")
    grant(api.env, reader, SECURITY_READER, MemberType.ACTIVE)
    mallory = api.env.user(directory, "mallory")
    row_id = _intruder_row(api, directory.id, mallory.id)
    admin_t, reader_t = api.token(admin), api.token(reader)

    listed = api.get(reader_t, "/alerts")
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["value"]) == 7
    scanned = api.post(reader_t, "/alerts/scan")
    assert scanned.status_code == 200, scanned.text
    outside = next(o for o in scanned.json()["value"] if o["alert_type"] == OUTSIDE)
    assert outside["change"] == "raised" and outside["affected"] == 1
    incident_id = outside["incident_id"]

    detail = api.get(reader_t, f"/alerts/incidents/{incident_id}").json()
    assert detail["incident"]["severity"] == "high"
    assert [i["key"] for i in detail["items"]] == [str(row_id)]
    assert detail["items"][0]["user"] == mallory.user_principal_name
    open_ = api.get(reader_t, "/alerts/incidents", params={"status": "open"}).json()["value"]
    assert incident_id in {i["id"] for i in open_}

    assert_problem(
        api.patch(reader_t, "/alerts/stale_accounts_in_privileged_roles", {"enabled": False}),
        403,
        "not_privileged_role_administrator",
    )
    bad = api.patch(
        admin_t, "/alerts/stale_accounts_in_privileged_roles", {"thresholds": {"days": 366}}
    )
    assert assert_problem(bad, 422, "threshold_out_of_bounds")["field"] == "thresholds.days"
    good = api.patch(
        admin_t, "/alerts/stale_accounts_in_privileged_roles", {"thresholds": {"days": 30}}
    )
    assert good.status_code == 200
    assert good.json()["thresholds"][0]["value"] == 30
    assert_problem(api.get(reader_t, "/alerts/no_such_alert"), 404, "alert_not_found")

    fixed = api.post(
        admin_t, f"/alerts/incidents/{incident_id}/fix",
        {"action": "remove_assignment", "items": [str(row_id)], "justification": "intruder"},
    )  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["incident"]["status"] == "resolved"
    dismissed = api.post(admin_t, f"/alerts/incidents/{incident_id}/dismiss", {"reason": "x"})
    assert_problem(dismissed, 409, "incident_not_open")


def test_dismiss_over_http(api4: Api) -> None:  # noqa: F811
    api = api4
    _directory, admin = pim_setup(api.env, pras=1)
    token = api.token(admin)
    scanned = api.post(
        token, "/alerts/scan", params={"alert_type": "too_few_privileged_role_administrators"}
    )
    (outcome,) = scanned.json()["value"]
    assert outcome["change"] == "raised"
    assert_problem(
        api.post(token, f"/alerts/incidents/{outcome['incident_id']}/dismiss", {"reason": ""}),
        422, "reason_required",
    )  # fmt: skip
    done = api.post(
        token, f"/alerts/incidents/{outcome['incident_id']}/dismiss", {"reason": "second PRA soon"}
    )
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    assert done.json()["dismiss_reason"] == "second PRA soon"
