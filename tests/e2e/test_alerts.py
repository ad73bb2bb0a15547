"""Security alerts in a real browser: scan now, an outside-PIM row found and removed, an
incident dismissed with a reason; axe-core on every page, 375 px, screenshots."""

from __future__ import annotations

import uuid
from typing import Any

from openpim.alerts.definitions import AlertType
from openpim.assignments.models import Assignment, AssignmentType
from openpim.directory import service as directory_service
from openpim.kit.context import Actor
from openpim.roles import ids
from tests.e2e.conftest import LiveServer, check_accessibility, console_errors, screenshot
from tests.e2e.helpers import PASSWORD, enable_pim_as, fits_narrow_screen, sign_in, visit

OUTSIDE = AlertType.OUTSIDE_PIM.value
TOO_FEW_PRAS = AlertType.TOO_FEW_PRAS.value


def _directory(live: LiveServer) -> tuple[uuid.UUID, str]:
    """A bootstrapped directory with PIM enabled by Ada (its only PRA); returns (id, secret)."""
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        directory, admin, secret = directory_service.bootstrap(
            ctx, "Contoso", "contoso.example", "ada@contoso.example", "Ada Admin", PASSWORD
        )
        directory_id, admin_id = directory.id, admin.id
    enable_pim_as(live, directory_id, admin_id, "ada@contoso.example")
    return directory_id, secret


def _written_straight_into_the_table(live: LiveServer, directory_id: uuid.UUID) -> uuid.UUID:
    """Mallory becomes Global Administrator by a row no PIM request made."""
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        mallory = directory_service.create_user(
            ctx, directory_id, "mallory@contoso.example", "Mallory", PASSWORD
        )
        mallory_id = mallory.id
    with live.runtime.db.unit_of_work() as session:
        row = Assignment(
            directory_id=directory_id,
            principal_id=mallory_id,
            role_id=ids.GLOBAL_ADMINISTRATOR,
            start_at=live.clock.now(),
            end_at=None,
            assignment_type=AssignmentType.ASSIGNED,
            created_via="pim",
            created_at=live.clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id


def test_scan_now_fix_and_dismiss(chromium: Any, live: LiveServer, axe_source: str) -> None:
    directory_id, secret = _directory(live)
    row_id = _written_straight_into_the_table(live, directory_id)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live, "ada@contoso.example", secret)

    visit(page, live, "/alerts", axe_source, "30-alerts-before-scan")
    assert page.locator("text=No scan has run in this directory yet").count() == 1
    fits_narrow_screen(page)
    page.click("button:has-text('Scan now')")
    page.wait_for_selector("text=Scanned 7 alerts: 2 new incidents, 0 resolved.")
    check_accessibility(page, axe_source, "/alerts after the scan")
    row = page.locator(f"#alert-{OUTSIDE}")
    assert "1 affected" in row.inner_text() and "High" in row.inner_text()
    screenshot(page, "31-alerts-after-scan")

    # The outside-PIM incident: who and what, then the fix.
    row.locator("a:has-text('1 affected')").click()
    page.wait_for_url(f"**/alerts/{OUTSIDE}#incident")
    check_accessibility(page, axe_source, f"/alerts/{OUTSIDE}")
    fits_narrow_screen(page)
    screenshot(page, "32-alert-outside-pim")
    item = page.locator(f"#fix-form tr[data-key='{row_id}']")
    assert "mallory@contoso.example" in item.inner_text()
    assert "Global Administrator" in item.inner_text()
    item.locator("input[type=checkbox]").check()
    page.fill("#f-fix-justification", "Nobody asked for this")
    page.click("button:has-text('Remove the selected assignments')")
    page.wait_for_selector("text=Fixed 1 item. The incident is resolved.")
    assert page.locator("text=No open incident").count() == 1
    assert page.locator("text=Resolved (condition cleared)").count() == 1
    check_accessibility(page, axe_source, "the alert after the fix")
    screenshot(page, "33-alert-fixed")
    page.click(f"a[href^='/alerts/{OUTSIDE}/incidents/']")
    page.wait_for_url("**/incidents/*")
    assert page.locator("text=mallory@contoso.example").count() == 1
    check_accessibility(page, axe_source, "the resolved incident")
    page.goto(f"{live.url}/roles/{ids.GLOBAL_ADMINISTRATOR}")
    assert page.locator("text=mallory@contoso.example").count() == 0

    # Ada is the only Privileged Role Administrator: dismissed with a reason.
    visit(page, live, f"/alerts/{TOO_FEW_PRAS}", axe_source)
    assert page.locator("#incident >> text=ada@contoso.example").count() >= 1
    page.click("button:has-text('Dismiss incident')")  # no reason: the browser holds it back
    assert page.locator("text=The incident is dismissed.").count() == 0
    page.fill("#f-reason", "A second PRA starts on Monday")
    page.click("button:has-text('Dismiss incident')")
    page.wait_for_selector("text=The incident is dismissed.")
    assert page.locator("text=covered by the dismissal").count() == 1
    assert page.locator("td:has-text('A second PRA starts on Monday')").count() == 1
    check_accessibility(page, axe_source, "the alert after the dismissal")
    screenshot(page, "34-alert-dismissed")

    visit(page, live, "/alerts", axe_source)
    assert page.locator("text=No open incidents at the last scan").count() == 1
    assert not errors, errors
    context.close()
