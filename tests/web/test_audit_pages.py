"""Audit history and My audit: filters, the chart, paging and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from openpim.assignments import service as membership
from openpim.audit.actions import KNOWN_ACTIONS
from tests.factories import PASSWORD_ADMIN, Env
from tests.web.helpers import Browser, text_of


def _activate(env: Env, user: object, justification: str) -> None:
    with env.ctx(env.actor(user, mfa=True)) as ctx:  # type: ignore[arg-type]
        membership.self_activate(
            ctx,
            directory_id=user.directory_id,  # type: ignore[attr-defined]
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification=justification,
        )


def test_audit_history_filters_chart_and_csv(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN, duration=timedelta(days=30))
    _activate(env, bob, "rotate the keys")
    browser.sign_in(admin)
    page = browser.page(f"/audit?range=today&user={bob.user_principal_name}")
    assert "activation.activated" in page and "rotate the keys" in page
    data = re.search(
        r'<script type="application/json" id="activations-range-data">(.*?)</script>', page, re.S
    )
    assert data is not None
    chart = json.loads(data.group(1))
    assert chart["datasets"][0]["label"] == "Password Administrator"
    assert sum(chart["datasets"][0]["data"]) == 1
    filtered = browser.page("/audit?range=week&action=request.denied")
    assert "No events match." in text_of(filtered)
    missing = text_of(browser.page("/audit?user=nobody@nowhere.example"))
    assert "There is no user named nobody@nowhere.example" in missing
    export = browser.get(f"/audit/export.csv?range=today&user={bob.user_principal_name}")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    actions = [r["action"] for r in rows]
    assert "activation.activated" in actions
    assert all(r["target"] == bob.user_principal_name for r in rows)


def test_audit_paging_and_my_audit(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    browser.sign_in(bob)
    for _ in range(55):  # more than one page of sign-ins by bob
        env.clock.advance(timedelta(seconds=31))
        browser.sign_in(bob, with_password=False)
    first = browser.page("/my-audit")
    assert "auth.signed_in" in first
    older = re.search(r'href="(/my-audit\?[^"]*cursor=[^"]+)"', first)
    assert older is not None
    second = browser.page(older.group(1).replace("&amp;", "&"))
    assert "Newest" in second and "auth.signed_in" in second
    mine = browser.get("/my-audit/export.csv")
    rows = list(csv.DictReader(io.StringIO(mine.text)))
    assert len(rows) >= 56 and {r["target"] for r in rows} == {bob.user_principal_name}
    # Bob reads no one else's history.
    assert browser.get("/audit").status_code == 403
    assert browser.get("/audit/export.csv").status_code == 403
    assert admin.user_principal_name not in text_of(first)


def test_action_filter_offers_the_audit_catalogue(env: Env, browser: Browser) -> None:
    _, admin = env.pim_directory()
    browser.sign_in(admin)
    page = browser.page("/audit?action=domain.added")
    offered = set(re.findall(r'<option value="([a-z_]+\.[A-Za-z_]+)"', page))
    assert offered == KNOWN_ACTIONS
    # An action the catalogue knows stays chosen; one it does not is dropped, not queried.
    assert '<option value="domain.added" selected>' in page
    unknown = browser.page("/audit?action=request.pending_approval")
    assert "selected>" not in unknown.split('id="f-action"', 1)[1].split("</select>", 1)[0]
