"""An admin sets up email in the browser, a message is dead-lettered while the SMTP server is
down, and the admin retries it from the delivery log once the server is back (aiosmtpd on
loopback)."""

from __future__ import annotations

import random
from typing import Any

from openpim.directory import service as directory_service
from openpim.kit.context import Actor
from openpim.notifications import delivery
from openpim.notifications.delivery import DeliveryPolicy
from tests.e2e.conftest import LiveServer, check_accessibility, console_errors, screenshot
from tests.e2e.helpers import PASSWORD, enable_pim_as, fits_narrow_screen, sign_in, visit
from tests.notifications.servers import SmtpServer, free_port

# One try, then the dead-letter queue: the test needs no waiting for backoff.
ONE_TRY = DeliveryPolicy(max_attempts=1, smtp_timeout=2.0)


def _deliver(live: LiveServer) -> delivery.DeliveryCounts:
    return delivery.drain(live.runtime, policy=ONE_TRY, rng=random.Random(7))


def test_admin_configures_email_sees_a_dead_letter_and_retries_it(
    chromium: Any, live: LiveServer, axe_source: str
) -> None:
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        directory, admin, secret = directory_service.bootstrap(
            ctx, "Contoso", "contoso.example", "ada@contoso.example", "Ada Admin", PASSWORD
        )
        directory_id, admin_id = directory.id, admin.id
    enable_pim_as(live, directory_id, admin_id, "ada@contoso.example")
    smtp = SmtpServer()  # its port is chosen, nothing listens there yet

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live, "ada@contoso.example", secret)

    visit(page, live, "/notifications/channels", axe_source, "50-notification-channels-empty")
    page.fill("#email-host", "127.0.0.1")
    page.fill("#email-port", str(smtp.port))
    page.select_option("#email-security", "none")
    page.fill("#email-from", "Contoso PIM <pim@contoso.example>")
    page.click("button:has-text('Save email channel')")
    page.wait_for_selector("text=The email channel is saved.")
    page.fill("#test-email", "ops@contoso.example")
    page.click("button:has-text('Send test')")
    page.wait_for_selector("text=A test message is queued")
    # A webhook to a port where nothing listens: its secret is never shown back.
    page.fill("#webhook-new-name", "siem")
    page.fill("#webhook-new-url", f"http://127.0.0.1:{free_port()}/hooks/pim")
    page.select_option("#webhook-new-format", "slack")
    page.fill("#webhook-new-secret", "a-shared-secret-for-the-siem")
    page.click("button:has-text('Add webhook')")
    page.wait_for_selector("text=The webhook is added.")
    assert "a-shared-secret-for-the-siem" not in page.content()
    page.click("summary:has-text('Change siem')")
    check_accessibility(page, axe_source, "channels with email and a webhook")
    fits_narrow_screen(page)
    screenshot(page, "51-notification-channels")

    # The server is down: one try each, then dead-lettered (the test message, and the
    # "PIM enabled" mail to Ada queued when she enabled PIM).
    assert _deliver(live).dead >= 1
    visit(page, live, "/notifications/deliveries?status=dead", axe_source, "52-delivery-log-dead")
    assert page.locator("tr[data-status]").count() == page.locator("tr[data-status=dead]").count()
    row = page.locator("tr[data-status=dead]:has-text('ops@contoso.example')")
    assert row.count() == 1
    fits_narrow_screen(page)
    row.locator("a").first.click()
    page.wait_for_url("**/notifications/deliveries/*")
    assert page.locator("text=Dead-lettered").count() >= 1
    check_accessibility(page, axe_source, "a dead-lettered delivery")
    screenshot(page, "53-delivery-dead")

    smtp.start()
    try:
        page.click("button:has-text('Retry this delivery')")
        page.wait_for_selector("text=The delivery is queued again.")
        assert _deliver(live).delivered == 1
        (received,) = smtp.to("ops@contoso.example")
        assert str(received.message["Subject"]).startswith("PIM:")
    finally:
        smtp.stop()
    page.reload()
    assert page.locator("dd[data-status=delivered]").count() == 1
    assert page.locator("td:has-text('delivered')").count() == 1
    check_accessibility(page, axe_source, "a delivered delivery")
    screenshot(page, "54-delivery-delivered")
    visit(page, live, "/notifications/deliveries", axe_source)
    assert page.locator("tr[data-status=delivered]").count() == 1
    assert not errors, errors
    context.close()
