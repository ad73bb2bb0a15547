"""The report routes over HTTP: pages, streamed CSV and JSON exports, statistics."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpim.assignments.models import MemberType
from tests.alerts.api_support import api4  # noqa: F401 - fixture
from tests.alerts.helpers import grant, pim_setup
from tests.api.helpers import Api, assert_problem
from tests.factories import PASSWORD_ADMIN, SECURITY_READER


def test_reports_over_http(api4: Api) -> None:  # noqa: F811
    api = api4
    env = api.env
    directory, admin = pim_setup(env)
    ann = env.user(directory, "ann")
    reader = env.user(directory, "reader")
    grant(env, reader, SECURITY_READER, MemberType.ACTIVE)
    eligibility = env.eligible(ann, PASSWORD_ADMIN, start=env.now - timedelta(days=3))
    for days in (2, 1):
        env.activated(
            ann, PASSWORD_ADMIN, eligibility=eligibility, start=env.now - timedelta(days=days)
        )
    reader_t, ann_t, admin_t = api.token(reader), api.token(ann), api.token(admin)

    page = api.get(reader_t, "/reports/activations", params={"limit": 1})
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]
    rest = api.get(
        reader_t, "/reports/activations", params={"limit": 1, "cursor": page.json()["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None

    own = api.get(ann_t, "/reports/activations").json()["items"]
    assert {r["user"] for r in own} == {ann.user_principal_name}
    assert_problem(
        api.get(ann_t, "/reports/activations", params={"user_id": str(admin.id)}),
        403,
        "not_pim_reader",
    )
    assert_problem(api.get(ann_t, "/reports/statistics"), 403)

    exported = api.get(
        reader_t, "/reports/activations/export", params={"role_id": str(PASSWORD_ADMIN)}
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["activation_id"] for r in rows] == [r["activation_id"] for r in own]
    as_json = api.get(reader_t, "/reports/assignment-changes/export", params={"format": "json"})
    assert (
        as_json.status_code == 200
        and as_json.json() == (api.get(reader_t, "/reports/assignment-changes").json()["items"])
    )
    naive = api.get(reader_t, "/reports/activations", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422

    stats = api.get(admin_t, "/reports/statistics", params={"role_id": str(PASSWORD_ADMIN)})
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert len(body["days"]) == 31 and sum(d["activations"] for d in body["days"]) == 2
    assert body["roles"][0]["distinct_users"] == 1
    days_csv = api.get(admin_t, "/reports/statistics/export", params={"part": "days"})
    assert len(list(csv.DictReader(io.StringIO(days_csv.text)))) == 31
