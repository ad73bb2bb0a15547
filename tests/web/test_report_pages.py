"""History and reports in the portal: the three tabs, their filters and pages, and the CSV/JSON
downloads checked against the reports service's own rows."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

from openpim.assignments import service as assignments
from openpim.assignments.models import MemberType
from openpim.directory.models import Directory, User
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.reports import service as reports
from openpim.reports.history import ReportFilter
from openpim.worker import Worker
from tests.alerts.helpers import grant, pim_setup
from tests.factories import PASSWORD_ADMIN, USER_ADMIN, Env
from tests.web.helpers import Browser, text_of

HOUR = timedelta(hours=1)


def _history(env: Env) -> tuple[Directory, User, User, User]:
    """Ann: an activation she deactivated (with a ticket), one that expired, one approved.
    Bob: eligible, extended, made permanent, removed. All through the services."""
    directory, admin = pim_setup(env)
    approver = env.user(directory, "approver")
    ann = env.user(directory, "ann")
    bob = env.user(directory, "bob")
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=False)
        )
    grant(env, ann, PASSWORD_ADMIN)
    env.clock.advance(HOUR)
    with env.ctx(ann) as ctx:
        assignments.self_activate(
            ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN, duration=2 * HOUR,
            justification="incident 1", ticket_number="INC-1", ticket_system="snow",
        )  # fmt: skip
    env.clock.advance(timedelta(minutes=20))
    with env.ctx(ann) as ctx:
        assignments.self_deactivate(ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN)
    env.clock.advance(HOUR)
    with env.ctx(ann) as ctx:
        assignments.self_activate(
            ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN, duration=HOUR,
            justification="incident 2",
        )  # fmt: skip
    env.clock.advance(2 * HOUR)
    Worker(env.runtime).run_once()  # records the expiry
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN,
            RoleSettingsUpdate(require_approval_on_activation=True, approver_ids=[approver.id]),
        )  # fmt: skip
    with env.ctx(ann) as ctx:
        pending = assignments.self_activate(
            ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN, duration=HOUR,
            justification="incident 3",
        )  # fmt: skip
    env.clock.advance(timedelta(minutes=3))
    with env.ctx(approver) as ctx:
        assignments.approve(ctx, pending.id, "ok")
    env.clock.advance(HOUR)
    grant(env, bob, USER_ADMIN, end=env.now + timedelta(days=10))
    with env.ctx() as ctx:
        assignments.admin_extend(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=USER_ADMIN,
            member_type=MemberType.ELIGIBLE, end_at=env.now + timedelta(days=40),
        )  # fmt: skip
        assignments.make_permanent(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=USER_ADMIN
        )
    env.clock.advance(HOUR)
    with env.ctx() as ctx:
        assignments.admin_remove(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=USER_ADMIN,
            member_type=MemberType.ACTIVE, justification="project over",
        )  # fmt: skip
    return directory, admin, ann, bob


def _cells(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Service rows as a CSV reader returns them: every value text, None an empty cell."""
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in items]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _island(page: str, chart_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', page, re.S
    )
    assert found is not None, f"no chart {chart_id}"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _service(env: Env, directory: Directory, read: Any, flt: ReportFilter) -> list[dict[str, Any]]:
    with env.ctx() as ctx:
        items: list[dict[str, Any]] = read(ctx, directory.id, flt, limit=500).items
    return items


def test_activation_history_page_and_downloads_match_the_service(
    env: Env, browser: Browser
) -> None:
    directory, admin, ann, _bob = _history(env)
    browser.sign_in(admin)
    page = browser.page("/reports?range=today")
    text = text_of(page)
    for expected in ("incident 1", "Ticket INC-1 (snow)", "incident 2", "incident 3",
                     "Deactivated", "By expiry", "approver@", "20 minutes", "2 hours"):  # fmt: skip
        assert expected in text, expected
    assert 'aria-current="page">Activation history' in page

    today = ReportFilter(since=env.now.replace(hour=0, minute=0, second=0), until=env.now + HOUR)
    expected_rows = _service(env, directory, reports.activation_history, today)
    assert len(expected_rows) == 3
    download = browser.get("/reports/activations/export.csv?range=today")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert _csv(download.text) == _cells(expected_rows)
    as_json = browser.get("/reports/activations/export.json?range=today")
    assert as_json.headers["content-type"].startswith("application/json")
    assert json.loads(as_json.text) == expected_rows
    assert {r["user"] for r in expected_rows} == {ann.user_principal_name}
    # The download links on the page carry the page's filters.
    assert 'href="/reports/activations/export.csv?range=today"' in page


def test_assignment_changes_page_filters_and_downloads(env: Env, browser: Browser) -> None:
    directory, admin, _ann, bob = _history(env)
    browser.sign_in(admin)
    page = browser.page(f"/reports/changes?range=today&user={bob.user_principal_name}")
    rows = re.findall(r'<span class="tag change">(\w+)</span>', page)
    assert rows == ["Removed", "Converted", "Extended", "Added"]
    assert "project over" in page and "operator:tests" in text_of(page)

    flt = ReportFilter(
        since=env.now.replace(hour=0, minute=0, second=0), until=env.now + HOUR, user_id=bob.id
    )
    expected_rows = _service(env, directory, reports.assignment_changes, flt)
    assert [r["change"] for r in expected_rows] == ["removed", "converted", "extended", "added"]
    query = f"range=today&user={bob.user_principal_name}"
    assert _csv(browser.get(f"/reports/changes/export.csv?{query}").text) == _cells(expected_rows)
    assert json.loads(browser.get(f"/reports/changes/export.json?{query}").text) == expected_rows

    by_role = browser.page(f"/reports/changes?range=today&role={PASSWORD_ADMIN}")
    assert re.findall(r'<span class="tag change">(\w+)</span>', by_role) == ["Added"]
    assert bob.user_principal_name not in by_role
    role_rows = _csv(
        browser.get(f"/reports/changes/export.csv?range=today&role={PASSWORD_ADMIN}").text
    )
    assert role_rows and {r["role"] for r in role_rows} == {"Password Administrator"}


def test_filters_unknown_user_empty_range_and_bad_dates(env: Env, browser: Browser) -> None:
    _directory, admin, _ann, _bob = _history(env)
    browser.sign_in(admin)
    missing = text_of(browser.page("/reports?user=nobody@nowhere.example"))
    assert "There is no user named nobody@nowhere.example" in missing
    assert "No activations match." in missing
    empty = browser.get("/reports/activations/export.csv?user=nobody@nowhere.example")
    assert empty.status_code == 200 and _csv(empty.text) == []
    before = (env.now - timedelta(days=20)).date().isoformat()
    earlier = (env.now - timedelta(days=10)).date().isoformat()
    past = text_of(browser.page(f"/reports?range=custom&since={before}&until={earlier}"))
    assert "No activations match." in past
    backwards = text_of(browser.page(f"/reports?range=custom&since={earlier}&until={before}"))
    assert "The end date is before the start date." in backwards
    too_long = text_of(
        browser.page(f"/reports/statistics?range=custom&since=2020-01-01&until={earlier}")
    )
    assert "Statistics cover at most 366 days at a time." in too_long
    bad_cursor = text_of(browser.page("/reports/changes?cursor=bm90LWEtY3Vyc29y"))
    assert "The cursor is not one this server handed out." in bad_cursor


def test_paging_walks_every_row_once(env: Env, browser: Browser) -> None:
    directory, admin = pim_setup(env)
    cy = env.user(directory, "cy")
    eligibility = env.eligible(cy, PASSWORD_ADMIN, duration=timedelta(days=30))
    for n in range(55):
        env.activated(cy, PASSWORD_ADMIN, eligibility=eligibility, start=env.now + n * HOUR)
    for n in range(52):
        grant(env, env.user(directory, f"member{n}"), USER_ADMIN)
    env.clock.advance(60 * HOUR)
    browser.sign_in(admin)
    for base, export, pattern in (
        ("/reports", "activations", r"Older activations"),
        ("/reports/changes", "changes", r"Older changes"),
    ):
        seen = 0
        url = f"{base}?range=week"
        pages = 0
        while url:
            page = browser.page(url)
            seen += len(re.findall(r"<tr>\s*<td><time", page))
            older = re.search(rf'href="([^"]*cursor=[^"]+)" rel="next">{pattern}', page)
            url = older.group(1).replace("&amp;", "&") if older else ""
            pages += 1
            if pages > 1:
                assert "Newest" in page
        total = len(_csv(browser.get(f"/reports/{export}/export.csv?range=week").text))
        assert pages >= 2 and seen == total and total > 50, (base, pages, seen, total)


def test_statistics_charts_table_and_downloads(env: Env, browser: Browser) -> None:
    directory, admin, _ann, _bob = _history(env)
    browser.sign_in(admin)
    page = browser.page(f"/reports/statistics?range=today&role={PASSWORD_ADMIN}")
    activity = _island(page, "stats-activations")
    assert activity["labels"] == [env.now.date().isoformat()]
    assert [d["label"] for d in activity["datasets"]] == ["Password Administrator"]
    assert activity["datasets"][0]["data"] == [3]
    members = _island(page, "stats-members")
    assert [d["label"] for d in members["datasets"]] == ["Eligible", "Permanent"]
    assert members["datasets"][0]["data"] == [1]
    row = re.search(r'<th scope="row">Password Administrator</th>(.*?)</tr>', page, re.S)
    assert row is not None
    # (20 + 60 + 60 minutes) / 3 activations
    assert "46 minutes" in text_of(row.group(1)) and ">3<" in row.group(1)

    with env.ctx() as ctx:
        stats = reports.statistics(
            ctx, directory.id, since=env.now.replace(hour=0, minute=0, second=0),
            until=env.now + timedelta(seconds=1), role_id=PASSWORD_ADMIN,
        )  # fmt: skip
    query = f"range=today&role={PASSWORD_ADMIN}"
    days = _csv(browser.get(f"/reports/statistics/days/export.csv?{query}").text)
    assert days == _csv("".join(reports.statistics_export(stats, "days")))
    roles = json.loads(browser.get(f"/reports/statistics/roles/export.json?{query}").text)
    assert roles == json.loads("".join(reports.statistics_export(stats, "roles", "json")))
    assert [r["role"] for r in roles] == ["Password Administrator"]
    assert roles[0]["activations"] == 3


def test_everyone_else_sees_only_their_own_history_and_no_statistics(
    env: Env, browser: Browser
) -> None:
    directory, _admin, ann, bob = _history(env)
    cy = env.user(directory, "cy")
    env.activated(cy, PASSWORD_ADMIN)
    browser.sign_in(ann)
    page = browser.page(f"/reports?range=today&user={cy.user_principal_name}")
    assert "incident 1" in page and cy.user_principal_name not in page
    assert 'name="user"' not in page and "/reports/statistics" not in page
    rows = _csv(browser.get("/reports/activations/export.csv?range=today").text)
    assert len(rows) == 3 and {r["user"] for r in rows} == {ann.user_principal_name}
    asked = _csv(browser.get(f"/reports/activations/export.csv?user={cy.user_principal_name}").text)
    assert {r["user"] for r in asked} == {ann.user_principal_name}
    changes = browser.page("/reports/changes?range=today")
    assert bob.user_principal_name not in changes and "Added" in changes
    assert browser.get("/reports/statistics").status_code == 403
    assert browser.get("/reports/statistics/days/export.csv").status_code == 403


def test_signed_out_visitors_go_to_sign_in(env: Env, browser: Browser) -> None:
    for path in ("/reports", "/reports/changes", "/reports/activations/export.csv"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
