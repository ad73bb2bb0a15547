"""The notifications API over HTTP: channels, a test message end to end, the delivery log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openpim.api import errors
from openpim.api import notifications as notifications_api
from openpim.api.deps import API_PREFIX, MAX_BODY_SIZE, PUBLIC_PATHS
from openpim.api.middleware import RequestContextMiddleware
from openpim.runtime import Runtime
from tests.api.helpers import Api, assert_problem
from tests.factories import SECURITY_READER, Env
from tests.notifications.helpers import SECRET, deliver
from tests.notifications.servers import Receiver, SmtpServer, WebhookServer


@pytest.fixture
def api(env: Env, runtime: Runtime) -> Iterator[Api]:
    """The notifications router with the API's own error handling and middleware; the app
    registers the same router in create_app."""
    app = FastAPI()
    app.state.runtime = runtime
    errors.install(app)
    app.add_middleware(
        RequestContextMiddleware,
        api_prefix=API_PREFIX,
        public_paths=PUBLIC_PATHS,
        max_body_size=MAX_BODY_SIZE,
    )
    app.include_router(notifications_api.router, prefix=API_PREFIX)
    with TestClient(app) as client:
        yield Api(env, client)


def test_configure_email_send_a_test_message_and_read_the_log(api: Api, smtp: SmtpServer) -> None:
    directory, admin = api.env.pim_directory()
    reader = api.env.user(directory, "reader")
    api.env.permanent(reader, SECURITY_READER)
    admin_t, reader_t = api.token(admin), api.token(reader)
    body = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "from_address": "pim@contoso.example",
    }
    refused = api.client.put(
        "/api/v1/notifications/email", json=body, headers={"Authorization": f"Bearer {reader_t}"}
    )
    assert_problem(refused, 403, "not_privileged_role_administrator")
    saved = api.client.put(
        "/api/v1/notifications/email", json=body, headers={"Authorization": f"Bearer {admin_t}"}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["password_set"] is False

    queued = api.post(admin_t, "/notifications/test", {"email": "ops@contoso.example"})
    assert queued.status_code == 202, queued.text
    assert deliver(api.env).delivered == 1
    assert smtp.received[0].recipients == ["ops@contoso.example"]
    assert str(smtp.received[0].message["Subject"]).startswith("PIM: Test message from")

    page = api.get(reader_t, "/notifications/deliveries").json()
    (item,) = page["items"]
    assert item["status"] == "delivered" and item["recipient"] == "ops@contoso.example"
    assert item["subject"].startswith("PIM: Test message")
    detail = api.get(reader_t, f"/notifications/deliveries/{item['id']}").json()
    assert [a["outcome"] for a in detail["attempt_log"]] == ["delivered"]
    not_dead = api.post(admin_t, f"/notifications/deliveries/{item['id']}/retry")
    assert_problem(not_dead, 409, "delivery_not_dead")
    overview = api.get(reader_t, "/notifications").json()
    assert overview["email"]["host"] == "127.0.0.1" and overview["webhooks"] == []


def test_webhooks_over_http_with_a_secret_shown_once(api: Api) -> None:
    _directory, admin = api.env.pim_directory()
    token = api.token(admin)
    receiver = Receiver(secret=SECRET)
    server = WebhookServer(receiver).start()
    try:
        created = api.post(
            token,
            "/notifications/webhooks",
            {"name": "siem", "url": receiver.url, "format": "generic", "secret": SECRET},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["secret"] is None and hook["secret_set"] is True
        assert hook["url"] == f"http://127.0.0.1:{receiver.port}/hooks/…"
        generated = api.post(
            token, "/notifications/webhooks", {"name": "chat", "url": "https://chat.example/x"}
        ).json()
        assert len(generated["secret"]) >= 32
        listed = api.get(token, "/notifications").json()["webhooks"]
        assert all("secret" not in h for h in listed)

        changed = api.client.patch(
            f"/api/v1/notifications/webhooks/{generated['id']}",
            json={"enabled": False},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert changed.status_code == 200 and changed.json()["enabled"] is False
        queued = api.post(token, "/notifications/test", {"webhook_id": hook["id"]})
        assert queued.status_code == 202
        assert deliver(api.env).delivered == 1
        assert receiver.hits[0].signature_ok and receiver.hits[0].event == "notifications.test"
        gone = api.client.delete(
            f"/api/v1/notifications/webhooks/{hook['id']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert gone.status_code == 204
    finally:
        server.stop()
    bad = api.post(token, "/notifications/webhooks", {"name": "x", "url": "file:///etc/passwd"})
    assert_problem(bad, 422, "invalid_webhook_url")
    both = api.post(token, "/notifications/test", {})
    assert_problem(both, 422, "test_target_required")
