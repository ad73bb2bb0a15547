"""Notification channels and the delivery log in the portal: real SMTP and webhook servers on
loopback, write-only secrets, dead letters retried by hand, filters, pages, and who may do
what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from openpim.notifications import channels, delivery
from tests.factories import SECURITY_READER, Env
from tests.notifications.helpers import POLICY, deliver, deliveries, webhook
from tests.notifications.servers import Receiver, SmtpServer, WebhookServer, free_port
from tests.web.helpers import Browser, text_of

CHANNELS = "/notifications/channels"
LOG = "/notifications/deliveries"
ONE_TRY = replace(POLICY, max_attempts=1)
SMTP_PASSWORD = "smtp-pass-Zq81-never-shown"
HOOK_SECRET = "hook-secret-Xw72-never-shown-0123"
HOOK_PATH = "/services/T000/B111/tokenpart-never-shown"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _posted(browser: Browser, path: str, data: dict[str, str], expect: str) -> None:
    response = browser.post(path, data)
    assert response.status_code == 303, (path, response.status_code, text_of(response.text)[:600])
    assert response.headers["location"] == expect


def _email_form(port: int, **extra: str) -> dict[str, str]:
    return {
        "host": "127.0.0.1",
        "port": str(port),
        "security": "none",
        "from_address": "Contoso PIM <pim@contoso.example>",
        "enabled": "1",
        **extra,
    }


def _rows(html: str) -> list[tuple[str, str]]:
    """(delivery id, status) of each row of the delivery log."""
    return re.findall(r'<tr id="delivery-([0-9a-f-]+)" data-status="(\w+)">', html)


def test_email_channel_and_a_test_message_reach_a_real_smtp_server(
    env: Env, browser: Browser, smtp: SmtpServer
) -> None:
    _directory, admin = env.pim_directory()
    browser.sign_in(admin)
    assert "No email channel yet" in text_of(browser.page(CHANNELS))
    _posted(browser, f"{CHANNELS}/email", _email_form(smtp.port), f"{CHANNELS}?msg=email_saved")
    page = text_of(browser.page(f"{CHANNELS}?msg=email_saved"))
    assert "The email channel is saved." in page and "by admin@" in page
    _posted(
        browser, f"{CHANNELS}/test", {"email": "ops@contoso.example"}, f"{CHANNELS}?msg=test_queued"
    )
    counts = deliver(env)
    assert counts.delivered == 1
    (received,) = smtp.to("ops@contoso.example")
    assert str(received.message["Subject"]).startswith("PIM:")

    log = browser.page(LOG)
    ((delivery_id, status),) = _rows(log)
    assert status == "delivered" and "ops@contoso.example" in log
    detail = text_of(browser.page(f"{LOG}/{delivery_id}"))
    assert "Delivered" in detail and "delivered" in detail.split("Attempts")[-1]
    assert delivery_id in received.message_id


def test_secrets_are_write_only_and_never_appear_in_any_page(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    browser.sign_in(admin)
    pages: list[str] = []

    def keep(response_text: str) -> str:
        pages.append(response_text)
        return response_text

    login = _email_form(2525, security="starttls", username="relay-user", password=SMTP_PASSWORD)
    _posted(browser, f"{CHANNELS}/email", login, f"{CHANNELS}?msg=email_saved")
    saved = keep(browser.page(CHANNELS))
    assert 'placeholder="saved; leave empty to keep"' in saved and "relay-user" in saved
    # Saved again with the password field empty: the stored password stays.
    _posted(browser, f"{CHANNELS}/email", {**login, "password": ""}, f"{CHANNELS}?msg=email_saved")
    with env.ctx() as ctx:
        email = channels.get_email_channel(ctx, directory.id)
        assert email is not None and email.password_set and email.username == "relay-user"
    # A refused form comes back with what was typed, except the password.
    refused = browser.post(
        f"{CHANNELS}/email", {**login, "security": "none", "password": SMTP_PASSWORD + "2"}
    )
    assert refused.status_code == 422 and "clear text" in text_of(keep(refused.text))
    assert "relay-user" in refused.text

    hook = {"name": "siem", "url": "https://hooks.example.com" + HOOK_PATH, "format": "slack",
            "secret": HOOK_SECRET, "enabled": "1"}  # fmt: skip
    _posted(browser, f"{CHANNELS}/webhooks", hook, f"{CHANNELS}?msg=webhook_added")
    listed = keep(browser.page(CHANNELS))
    assert "https://hooks.example.com/services/…" in listed and "Slack-compatible" in listed
    (webhook_id,) = re.findall(r'action="/notifications/channels/webhooks/([0-9a-f-]+)"', listed)
    short = browser.post(f"{CHANNELS}/webhooks/{webhook_id}", {**hook, "secret": "too-short"})
    assert short.status_code == 422 and "at least 16 characters" in keep(short.text)
    assert "too-short" not in short.text
    _posted(
        browser, f"{CHANNELS}/webhooks/{webhook_id}",
        {"name": "siem-2", "url": "", "format": "teams", "secret": "", "event_types": "role.*"},
        f"{CHANNELS}?msg=webhook_saved",
    )  # fmt: skip
    changed = keep(browser.page(CHANNELS))
    assert "siem-2" in changed and "Microsoft Teams-compatible" in changed and "role.*" in changed
    assert "https://hooks.example.com/services/…" in changed  # the URL was kept
    keep(browser.page(LOG))
    keep(browser.page("/audit"))
    for html in pages:
        for secret in (SMTP_PASSWORD, HOOK_SECRET, HOOK_PATH, "tokenpart"):
            assert secret not in html, secret

    # A secret the server makes is shown in the response that created it, and never again.
    made = browser.post(
        f"{CHANNELS}/webhooks", {"name": "chat", "url": "https://chat.example.com/in/abc"}
    )
    assert made.status_code == 200 and "it is never shown again" in made.text
    generated = re.search(r'<code class="secret">([^<]+)</code>', made.text)
    assert generated is not None and len(generated.group(1)) >= 32
    assert generated.group(1) not in browser.page(CHANNELS)


def test_removing_channels_and_who_may_do_what(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    reader = env.user(directory, "reader")
    env.permanent(reader, SECURITY_READER)
    someone = env.user(directory, "someone")
    browser.sign_in(admin)
    _posted(browser, f"{CHANNELS}/email", _email_form(2525), f"{CHANNELS}?msg=email_saved")
    hook = {"name": "siem", "url": "https://hooks.example.com/x", "secret": HOOK_SECRET}
    _posted(browser, f"{CHANNELS}/webhooks", hook, f"{CHANNELS}?msg=webhook_added")
    (webhook_id,) = re.findall(
        r'action="/notifications/channels/webhooks/([0-9a-f-]+)/remove"', browser.page(CHANNELS)
    )

    browser.sign_in(reader)
    page = browser.page(CHANNELS)
    assert "Read-only" in page and "siem" in page and "127.0.0.1" in page
    assert "/notifications/channels/webhooks" not in page and "Send test" not in page
    assert "Retry all" not in browser.page(LOG)
    for path in (f"{CHANNELS}/email/remove", f"{CHANNELS}/webhooks/{webhook_id}/remove"):
        refused = browser.post(path)
        assert refused.status_code == 403
        assert "Privileged Role Administrator" in text_of(refused.text)
    assert browser.post(f"{LOG}/retry-dead").status_code == 403

    browser.sign_in(someone)
    assert browser.get(CHANNELS).status_code == 403
    assert browser.get(LOG).status_code == 403

    browser.sign_in(admin)
    _posted(
        browser, f"{CHANNELS}/webhooks/{webhook_id}/remove", {}, f"{CHANNELS}?msg=webhook_removed"
    )
    _posted(browser, f"{CHANNELS}/email/remove", {}, f"{CHANNELS}?msg=email_removed")
    page = text_of(browser.page(CHANNELS))
    assert "No webhooks." in page and "No email channel yet" in page


def test_dead_letters_are_shown_and_retried_after_fixing_the_webhook(
    env: Env, browser: Browser
) -> None:
    _directory, admin = env.pim_directory()
    browser.sign_in(admin)
    dead_end = f"http://127.0.0.1:{free_port()}/hooks/pim"  # nothing listens there
    hook = {"name": "siem", "url": dead_end, "secret": HOOK_SECRET, "enabled": "1"}
    _posted(browser, f"{CHANNELS}/webhooks", hook, f"{CHANNELS}?msg=webhook_added")
    (webhook_id,) = re.findall(r'name="webhook_id" value="([0-9a-f-]+)"', browser.page(CHANNELS))
    for _ in range(2):
        _posted(
            browser, f"{CHANNELS}/test", {"webhook_id": webhook_id}, f"{CHANNELS}?msg=test_queued"
        )
    # One failed try of four: both wait for a retry.
    assert deliver(env).retrying == 2
    retrying = browser.page(f"{LOG}?status=pending")
    assert [s for _, s in _rows(retrying)] == ["pending", "pending"]
    assert retrying.count('<span class="tag">Retrying</span>') == 2
    # The next failure is the last try: dead-lettered.
    env.clock.advance(POLICY.max_delay)
    assert deliver(env, policy=ONE_TRY).dead == 2
    dead = browser.page(f"{LOG}?status=dead")
    (first, _), (second, _) = _rows(dead)
    assert _rows(browser.page(f"{LOG}?status=delivered")) == []
    detail = text_of(browser.page(f"{LOG}/{first}"))
    assert "Dead-lettered" in detail and "Retry this delivery" in detail
    attempts_table = detail.split("Attempts")[-1]
    assert " failed " in attempts_table and " dead " in attempts_table
    assert "Connection refused" in attempts_table

    receiver = Receiver(HOOK_SECRET)
    server = WebhookServer(receiver).start()
    try:
        _posted(
            browser, f"{CHANNELS}/webhooks/{webhook_id}",
            {"name": "siem", "url": receiver.url, "format": "generic", "enabled": "1"},
            f"{CHANNELS}?msg=webhook_saved",
        )  # fmt: skip
        _posted(browser, f"{LOG}/{first}/retry", {}, f"{LOG}/{first}?msg=retried")
        again = browser.post(f"{LOG}/{first}/retry")
        assert again.status_code == 409  # no longer dead
        assert deliver(env).delivered == 1
        assert [h.delivery_id for h in receiver.delivered()] == [first]
        assert all(h.signature_ok for h in receiver.hits)
        _posted(browser, f"{LOG}/retry-dead", {}, f"{LOG}?msg=retried_all")
        assert deliver(env).delivered == 1
        assert {h.delivery_id for h in receiver.delivered()} == {first, second}
    finally:
        server.stop()
    assert {s for _, s in _rows(browser.page(LOG))} == {"delivered"}
    attempts = text_of(browser.page(f"{LOG}/{second}")).split("Attempts")[-1]
    assert "delivered" in attempts
    _posted(browser, f"{LOG}/retry-dead", {}, f"{LOG}?msg=nothing_dead")


def test_the_log_pages_newest_first_without_gaps(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    hook = webhook(env, directory, "https://hooks.example.com/x")
    with env.ctx() as ctx:
        for _ in range(57):
            channels.send_test(ctx, directory.id, webhook_id=hook)
    assert delivery.fan_out(env.runtime, limit=100) == 57
    browser.sign_in(admin)
    seen: list[str] = []
    url = f"{LOG}?channel=webhook"
    while url:
        page = browser.page(url)
        seen += [d for d, _ in _rows(page)]
        older = re.search(r'href="([^"]*cursor=[^"]+)" rel="next">Older', page)
        url = older.group(1).replace("&amp;", "&") if older else ""
    expected = [d.id for d in deliveries(env)]
    assert len(seen) == 57 and set(seen) == {str(i) for i in expected}
    assert _rows(browser.page(f"{LOG}?channel=email")) == []
    bad = text_of(browser.page(f"{LOG}?cursor=bm9wZQ"))
    assert "The cursor is not one this server handed out." in bad
