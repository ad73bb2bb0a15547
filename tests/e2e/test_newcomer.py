"""From an empty database to an activated role, in a real browser, as the issue describes it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpim.directory import service as directory_service
from openpim.kit.context import Actor
from openpim.roles import ids
from tests.e2e.conftest import LiveServer, check_accessibility, console_errors, screenshot
from tests.e2e.helpers import PASSWORD, code, fits_narrow_screen, visit

PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"


def test_newcomer_from_empty_database_to_an_activated_role(
    chromium: Any, live: LiveServer, axe_source: str, tmp_path: Path
) -> None:
    admin_ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    admin = admin_ctx.new_page()
    admin_errors = console_errors(admin)

    # 1. First run: the bootstrap page, then the authenticator with its QR code.
    admin.goto(live.url + "/")
    admin.wait_for_url("**/setup")
    check_accessibility(admin, axe_source, "/setup")
    screenshot(admin, "01-setup")
    admin.fill("#f-directory_name", "Contoso")
    admin.fill("#f-domain", "contoso.example")
    admin.fill("#f-admin_upn", "ada@contoso.example")
    admin.fill("#f-admin_display_name", "Ada Admin")
    admin.fill("#f-password", PASSWORD)
    admin.fill("#f-password_confirm", PASSWORD)
    admin.click("button:has-text('Create directory and administrator')")
    secret = admin.get_attribute("#totp-secret", "data-secret")
    assert secret and admin.locator(".qrbox svg").count() == 1
    check_accessibility(admin, axe_source, "setup: authenticator")
    screenshot(admin, "02-setup-authenticator")
    admin.fill("#f-password", PASSWORD)
    admin.fill("#f-totp_code", "000000")
    admin.click("button:has-text('Confirm and continue')")
    admin.wait_for_selector("text=The user name, password or code is incorrect.")
    assert admin.locator(".qrbox svg").count() == 1  # the QR code stays while retrying
    admin.fill("#f-password", PASSWORD)
    admin.fill("#f-totp_code", code(live, secret))
    admin.click("button:has-text('Confirm and continue')")
    admin.wait_for_url("**/pim/enable")
    assert admin.goto(live.url + "/setup").status == 404  # gone for good

    # 2. Enable PIM, then the security wizard.
    visit(admin, live, "/pim/enable", axe_source, "03-enable-pim")
    admin.click("button:has-text('Enable PIM for Contoso')")
    admin.wait_for_url("**/pim/wizard*")
    check_accessibility(admin, axe_source, "/pim/wizard")
    screenshot(admin, "04-security-wizard")
    admin.check(f"input[value$=':{ids.SECURITY_ADMINISTRATOR}']")
    admin.click("button:has-text('Convert selected to eligible')")
    admin.wait_for_url("**/dashboard*")
    admin.wait_for_selector("text=the selected administrators are now eligible")

    # The member exists in the directory (users come from the CLI or the API).
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        ada = directory_service.find_user_by_upn(ctx, _directory_id(live), "ada@contoso.example")
        assert ada is not None
        directory_service.create_user(
            ctx, ada.directory_id, "bob@contoso.example", "Bob Builder", PASSWORD
        )

    # 3. The role demands a ticket too; then Bob becomes eligible through the type-ahead.
    visit(admin, live, f"/roles/{PASSWORD_ADMIN}/settings", axe_source, "05-role-settings")
    admin.check("input[name=require_ticket_on_activation]")
    admin.click("button:has-text('Save settings')")
    admin.wait_for_selector("text=The role settings are saved.")
    assert admin.is_disabled("input[name=require_mfa_on_activation]") is False
    visit(admin, live, f"/roles/{ids.GLOBAL_ADMINISTRATOR}/settings", axe_source)
    assert admin.is_disabled("input[name=require_mfa_on_activation]")
    assert admin.is_checked("input[name=require_mfa_on_activation]")
    visit(admin, live, f"/roles/{PASSWORD_ADMIN}", axe_source)
    admin.fill("#f-user", "bob")
    admin.wait_for_selector("#user-options option[value='bob@contoso.example']", state="attached")
    admin.fill("#f-user", "bob@contoso.example")
    admin.click("button:has-text('Add member')")
    admin.wait_for_selector("text=The member was added.")
    assert admin.locator("th:has-text('bob@contoso.example')").count() == 1
    screenshot(admin, "06-role-members")

    # 4. Bob signs in with the keyboard alone, sets up his authenticator, activates the role.
    bob_ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    bob = bob_ctx.new_page()
    bob_errors = console_errors(bob)
    bob.goto(live.url + "/sign-in")
    check_accessibility(bob, axe_source, "/sign-in")
    screenshot(bob, "07-sign-in")
    bob.keyboard.type("bob@contoso.example")  # the user name field has the focus
    bob.keyboard.press("Tab")
    bob.keyboard.type(PASSWORD)
    bob.keyboard.press("Enter")
    bob.wait_for_url("**/dashboard*")
    visit(bob, live, "/account", axe_source, "08-account")
    bob.click("button:has-text('Set up an authenticator app')")
    bob_secret = bob.get_attribute("#totp-secret", "data-secret")
    assert bob_secret
    check_accessibility(bob, axe_source, "account: authenticator")
    bob.fill("#f-code", code(live, bob_secret))
    bob.click("button:has-text('Confirm')")
    bob.wait_for_selector("text=Your authenticator app is set up.")
    visit(bob, live, "/my-roles", axe_source, "09-my-roles")
    bob.click("a:has-text('Activate')")
    bob.wait_for_url(f"**/my-roles/{PASSWORD_ADMIN}/activate")
    check_accessibility(bob, axe_source, "activate")
    assert bob.locator("text=Ticket number and system: required").count() == 1
    screenshot(bob, "10-activate")
    bob.fill("#f-justification", "reset the CEO's password")
    bob.fill("#f-ticket_number", "INC-42")
    bob.fill("#f-ticket_system", "ServiceNow")
    bob.fill("#f-totp_code", code(live, bob_secret))
    bob.click("#activate-form button[type=submit]")
    bob.wait_for_selector("text=Your role is active.")
    assert bob.url.endswith("/my-roles")  # swapped in place, address updated
    row = bob.locator("#active-roles tr[data-role='Password Administrator']")
    assert row.count() == 1 and "Activated" in row.inner_text()
    assert row.locator("td.end time").count() == 1
    check_accessibility(bob, axe_source, "my roles after activation")
    screenshot(bob, "11-role-active")
    fits_narrow_screen(bob)

    # 5. The admin sees it in the audit history and exports it.
    visit(admin, live, "/audit?range=today&user=bob@contoso.example", axe_source, "12-audit")
    assert admin.locator("code:has-text('activation.activated')").count() >= 1
    assert admin.locator("canvas[data-drawn]").count() == 1  # Chart.js drew the chart
    with admin.expect_download() as download_info:
        admin.click("a:has-text('Export CSV')")
    target = tmp_path / "audit.csv"
    download_info.value.save_as(str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    activated = [r for r in rows if r["action"] == "activation.activated"]
    assert activated and activated[0]["target"] == "bob@contoso.example"
    assert activated[0]["ticket_number"] == "INC-42"

    # 6. Every other main page: axe, a screenshot, and the 375 px check.
    for path, shot in (
        ("/dashboard", "13-dashboard"),
        ("/roles", "14-roles"),
        ("/admin-roles", "15-users-in-admin-roles"),
        ("/my-requests", "16-my-requests"),
        ("/approvals", "17-approvals"),
        ("/my-audit", "18-my-audit"),
        ("/pim/wizard", "19-wizard-reopened"),
    ):
        visit(admin, live, path, axe_source, shot)
        fits_narrow_screen(admin)
    assert not admin_errors, admin_errors
    assert not bob_errors, bob_errors
    admin_ctx.close()
    bob_ctx.close()


def _directory_id(live: LiveServer) -> Any:
    from sqlalchemy import select

    from openpim.directory.models import Directory

    with live.runtime.db.reader() as s:
        return s.execute(select(Directory.id)).scalar_one()
