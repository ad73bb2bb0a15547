"""Enabling PIM, the wizard, activation, approvals, role management and settings pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from openpim.alerts import service as alerts_service
from openpim.directory.models import Directory
from openpim.kit.context import Actor
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.roles import ids
from tests.factories import GA, PASSWORD_ADMIN, PRA, Env
from tests.web.helpers import Browser, text_of


def test_enable_pim_is_offered_only_to_an_active_organizational_global_admin(
    env: Env, browser: Browser, second_browser: Browser
) -> None:
    directory = env.directory()
    ga = env.user(directory, "ga")
    env.permanent(ga, GA)
    outsider = env.user(directory, "guest", external=True)
    env.permanent(outsider, GA)
    second_browser.sign_in(outsider)
    refusal = text_of(second_browser.page("/pim/enable"))
    assert "You cannot enable PIM" in refusal and "external (personal) account" in refusal
    browser.sign_in(ga)
    assert "Enable PIM for" in browser.page("/pim/enable")
    enabled = browser.post("/pim/enable")
    assert enabled.status_code == 303 and enabled.headers["location"].startswith("/pim/wizard")
    wizard = browser.page("/pim/wizard?msg=pim_enabled")
    assert "PIM is enabled" in wizard and ga.user_principal_name in wizard
    # Converting every Global Administrator is refused as a whole, shown on the form.
    refused = browser.post("/pim/wizard", {"member": [f"{ga.id}:{GA}", f"{outsider.id}:{GA}"]})
    assert refused.status_code == 409
    assert "without an active Global Administrator" in text_of(refused.text)
    second = env.user(directory, "ga2")
    env.permanent(second, GA)
    done = browser.post("/pim/wizard", {"member": f"{second.id}:{GA}"})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard?msg=wizard_done"
    with env.runtime.db.reader() as s:
        row = s.get(Directory, directory.id)
        assert row is not None and row.wizard_completed_at is not None
    dashboard = text_of(browser.page("/dashboard"))
    assert "No open alerts." in dashboard and "Users per privileged role" in dashboard
    assert "Activations in the last 7 days" in dashboard
    assert "0 ongoing reviews" in dashboard
    with env.ctx(env.actor(ga)) as ctx:
        alerts_service.scan_now(ctx, directory.id)
    raised = text_of(browser.page("/dashboard"))
    assert "open alert" in raised and "Fewer than two" in raised


def test_activation_asks_for_a_code_once_and_shows_the_role_active(
    env: Env, browser: Browser
) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, ids.SECURITY_READER, duration=timedelta(days=30))
    browser.sign_in(bob)
    env.clock.advance(env.runtime.settings.mfa_freshness + timedelta(minutes=1))
    roles = browser.page("/my-roles")
    assert "Security Reader" in roles and f"/my-roles/{ids.SECURITY_READER}/activate" in roles
    form = text_of(browser.page(f"/my-roles/{ids.SECURITY_READER}/activate"))
    assert "Justification: required" in form and "Enter a code from your authenticator app" in form
    path = f"/my-roles/{ids.SECURITY_READER}/activate"
    base = {
        "duration_minutes": "60",
        "justification": "quarterly review",
        "ticket_number": "INC-1",
        "ticket_system": "ServiceNow",
    }
    wrong = browser.post(path, {**base, "totp_code": "000000"})
    assert wrong.status_code == 401 and "incorrect" in text_of(wrong.text)
    old_session = browser.session
    done = browser.post(path, {**base, "totp_code": env.totp(bob)}, headers={"HX-Request": "true"})
    assert done.status_code == 200
    assert done.headers["HX-Push-Url"] == "/my-roles"
    page = text_of(done.text)
    assert "Your role is active." in page and "Activated" in page
    assert browser.session != old_session  # rotated at step-up
    # Inside the first five minutes deactivation is disabled, with the reason.
    assert "cannot be ended in its first 5 minutes" in page
    env.clock.advance(timedelta(minutes=6))
    again = browser.page(f"/my-roles/{ids.SECURITY_READER}/activate")
    assert "Already confirmed in this session" in text_of(again) or "already" in again
    off = browser.post(f"/my-roles/{ids.SECURITY_READER}/deactivate")
    assert off.status_code == 303 and off.headers["location"] == "/my-roles?msg=deactivated"


def test_approval_flow_and_self_approval_refusal(
    env: Env, browser: Browser, second_browser: Browser
) -> None:
    directory, admin = env.pim_directory()
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(
                require_approval_on_activation=True, require_mfa_on_activation=False
            ),
        )
    env.eligible(admin, PASSWORD_ADMIN, duration=timedelta(days=30))
    approver = env.user(directory, "approver")
    env.permanent(approver, PRA)
    browser.sign_in(admin)
    asked = browser.post(
        f"/my-roles/{PASSWORD_ADMIN}/activate",
        {"duration_minutes": "60", "justification": "reset a password"},
    )
    assert asked.status_code == 303 and asked.headers["location"].endswith("activation_pending")
    own = text_of(browser.page("/approvals"))
    assert "Your request: not yours to approve" in own
    found = re.search(r'id="own-([0-9a-f-]{36})"', browser.page("/approvals"))
    assert found is not None
    request_id = found.group(1)
    refused = browser.post(
        f"/requests/{request_id}/decide", {"decision": "approve", "justification": "me"}
    )
    assert refused.status_code == 403
    assert "You cannot decide on your own request." in text_of(refused.text)
    second_browser.sign_in(approver)
    todo = text_of(second_browser.page("/approvals"))
    assert "Waiting for your decision" in todo and "reset a password" in todo
    approved = second_browser.post(
        f"/requests/{request_id}/decide", {"decision": "approve", "justification": "ok"}
    )
    assert approved.status_code == 303
    mine = text_of(browser.page("/my-roles"))
    assert "Password Administrator" in mine and "Activated" in mine
    history = text_of(browser.page("/my-requests?status=approved"))
    assert "Provisioned" in history


def test_read_only_roles_see_pages_without_buttons_and_the_server_refuses(
    env: Env, browser: Browser
) -> None:
    directory, _admin = env.pim_directory()
    reader = env.user(directory, "reader")
    env.permanent(reader, ids.SECURITY_READER)
    bob = env.user(directory, "bob")
    browser.sign_in(reader)
    role = browser.page(f"/roles/{GA}")
    assert "Only a Privileged Role Administrator can change them" in role
    assert "Add a member" not in role and "Remove</button>" not in role
    settings = browser.page(f"/roles/{GA}/settings")
    assert "Save settings" not in settings and "Read-only" in settings
    assert "it cannot be switched off" in settings  # MFA locked, shown with the reason
    for path in ("/roles", "/admin-roles", "/audit", "/pim/wizard", "/dashboard"):
        assert "Convert selected" not in browser.page(path)
    refused = browser.post(f"/roles/{GA}/members", {"user": bob.user_principal_name})
    assert refused.status_code == 403
    assert "Only an active Privileged Role Administrator can change PIM." in text_of(refused.text)
    settings_refused = browser.post(
        f"/roles/{PASSWORD_ADMIN}/settings",
        {"activation_max_hours": "2", "eligible_max_days": "30", "active_max_days": "30"},
    )
    assert settings_refused.status_code == 403


def test_role_management_add_search_convert_remove_and_last_admin_refusal(
    env: Env, browser: Browser
) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    browser.sign_in(admin)
    options = browser.page("/users/search?user=bo")
    assert f'value="{bob.user_principal_name}"' in options
    path = f"/roles/{PASSWORD_ADMIN}"
    added = browser.post(
        f"{path}/members", {"user": bob.user_principal_name, "member_type": "Eligible"}
    )
    assert added.status_code == 303
    page = text_of(browser.page(path))
    assert bob.user_principal_name in page and "assigned in PIM" in page
    unknown = browser.post(f"{path}/members", {"user": "nobody@nowhere.example"})
    assert unknown.status_code == 422 and "There is no user named" in text_of(unknown.text)
    made = browser.post(
        f"{path}/members/{bob.id}", {"change": "make_permanent", "member_type": "Eligible"}
    )
    assert made.status_code == 303
    back = browser.post(
        f"{path}/members/{bob.id}", {"change": "make_eligible", "member_type": "Active"}
    )
    assert back.status_code == 303
    removed = browser.post(
        f"{path}/members/{bob.id}", {"change": "remove", "member_type": "Eligible"}
    )
    assert removed.status_code == 303
    last = browser.post(
        f"/roles/{GA}/members/{admin.id}", {"change": "remove", "member_type": "Active"}
    )
    assert last.status_code == 409
    assert "without an active Global Administrator" in text_of(last.text)
    saved = browser.post(
        f"/roles/{PASSWORD_ADMIN}/settings",
        {"activation_max_hours": "30", "eligible_max_days": "30", "active_max_days": "30"},
    )
    assert saved.status_code == 422 and "24" in text_of(saved.text)
    ok = browser.post(
        f"/roles/{PASSWORD_ADMIN}/settings",
        {
            "activation_max_hours": "2",
            "eligible_max_days": "30",
            "active_max_days": "30",
            "require_ticket_on_activation": "1",
            "require_justification_on_activation": "1",
        },
    )
    assert ok.status_code == 303
    shown = browser.page(f"/roles/{PASSWORD_ADMIN}/settings")
    assert 'value="2"' in shown


def test_get_pages_change_nothing(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    env.eligible(admin, PASSWORD_ADMIN, duration=timedelta(days=3))
    browser.sign_in(admin)
    with env.runtime.read(Actor.operator("t")) as ctx:
        from openpim.audit.models import AuditChainHead

        before = ctx.session.get(AuditChainHead, 1)
        seq = before.last_seq if before else 0
    pages = [
        "/",
        "/dashboard",
        "/my-roles",
        "/my-requests",
        "/approvals",
        "/roles",
        f"/roles/{GA}",
        f"/roles/{GA}/settings",
        "/admin-roles",
        "/audit",
        "/my-audit",
        "/pim/wizard",
        f"/my-roles/{PASSWORD_ADMIN}/activate",
        "/audit/export.csv",
        "/my-audit/export.csv",
        "/users/search?q=ad",
        "/roles?show=all",
    ]
    for path in pages:
        assert browser.get(path).status_code in (200, 303), path
    with env.runtime.read(Actor.operator("t")) as ctx:
        after = ctx.session.get(AuditChainHead, 1)
        assert (after.last_seq if after else 0) == seq
    assert directory.id


ROW = re.compile(r'<tr>\s*<th scope="row">([^<]+?)(?: <span class="tag">scheduled</span>)?</th>')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


def _walk(browser: Browser, path: str) -> tuple[list[str], int]:
    """Follow the "next" links from `path`; the rows' first cells and the number of pages."""
    rows: list[str] = []
    pages = 0
    while True:
        html = browser.page(path)
        pages += 1
        rows += [m.strip() for m in ROW.findall(html)]
        found = NEXT.search(html)
        if found is None:
            return rows, pages
        path = found.group(1).replace("&amp;", "&")
        assert pages < 100


def test_member_lists_page_on_without_losing_or_repeating_tied_rows(
    env: Env, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpim.web.pages import members, roles

    directory, admin = env.pim_directory()
    start = env.now - timedelta(days=1)
    for name in ("ann", "bob", "cid"):
        user = env.user(directory, name)
        for _ in range(3):  # three rows per user that tie on user, role and start
            env.eligible(user, PASSWORD_ADMIN, start=start)
        env.permanent(user, PASSWORD_ADMIN, start=start)
    browser.sign_in(admin)
    monkeypatch.setattr(members, "PAGE", 500)
    whole, pages = _walk(browser, f"/admin-roles?role={PASSWORD_ADMIN}")
    assert pages == 1 and len(whole) == 3 * 4
    monkeypatch.setattr(members, "PAGE", 2)
    paged, pages = _walk(browser, f"/admin-roles?role={PASSWORD_ADMIN}")
    assert paged == whole and pages == 6
    second = browser.page(
        NEXT.findall(browser.page("/admin-roles?role=all"))[0].replace("&amp;", "&")
    )
    assert "First page" in second and "role=all" in second
    # The role page pages each section on its own and keeps the other where it was.
    monkeypatch.setattr(roles, "MEMBERS_SHOWN", 2)
    first = browser.page(f"/roles/{PASSWORD_ADMIN}")
    links = NEXT.findall(first)
    assert len(links) == 2 and "eligible=" in links[0] and "active=" in links[1]
    eligible_rows: list[str] = []
    path = f"/roles/{PASSWORD_ADMIN}"
    while True:
        html = browser.page(path)
        section = html.split('id="active-members"')[0].split('id="eligible-members"')[1]
        eligible_rows += [m.strip() for m in ROW.findall(section)]
        following = [link for link in NEXT.findall(section)]
        if not following:
            break
        path = following[0].replace("&amp;", "&")
        assert "active=" not in path
    assert len(eligible_rows) == 9
    assert sorted(set(eligible_rows)) == sorted(r for r in set(whole))
    bad = browser.get("/admin-roles?role=all&cursor=nonsense")
    assert bad.status_code == 422 and "cursor" in text_of(bad.text)


def test_dashboard_links_alerts_and_reviews_only_beside_their_panels(
    env: Env, browser: Browser, second_browser: Browser
) -> None:
    links = ('href="/alerts"', 'href="/reviews"', 'href="/my-reviews"')

    def content(html: str) -> str:  # the dashboard itself, not the navigation around it
        return html.split("<h1>Dashboard", 1)[1]

    directory, admin = env.pim_directory()
    browser.sign_in(admin)
    page = content(browser.page("/dashboard"))
    assert all(link in page for link in links)
    assert "All alerts" in text_of(page) and "Reviews waiting for me" in text_of(page)
    member = env.user(directory, "member")
    second_browser.sign_in(member)
    plain = content(second_browser.page("/dashboard"))
    assert not any(link in plain for link in links)
    # A reader of a directory without PIM sees no panels, so no links either.
    other = env.directory()
    ga = env.user(other, "ga")
    env.permanent(ga, GA)
    browser.sign_in(ga)
    before_pim = content(browser.page("/dashboard"))
    assert "PIM is not enabled" in text_of(before_pim)
    assert not any(link in before_pim for link in links)
