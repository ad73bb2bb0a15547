"""Webhook bodies (generic, Slack, Teams), the signature a receiver checks, and event filters."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from openpim.assignments.models import MemberType
from openpim.kit.context import Actor
from openpim.notifications import webhooks
from openpim.notifications.outbox import enqueue
from tests.assignments.helpers import activate, assign
from tests.factories import PASSWORD_ADMIN, Env
from tests.notifications.helpers import SECRET, deliver, webhook
from tests.notifications.servers import Receiver, WebhookServer

CONTENT = {
    "subject": "PIM: Alice activated Password Administrator",
    "intro": "Alice activated the <Password Administrator> role & more.",
    "facts": [["Who", "Alice"], ["Role", "Password Administrator"]],
    "link": "https://pim.contoso.example/roles/x/members",
    "action_needed": False,
}
EVENT = {
    "event_type": "role.activated",
    "outbox_id": "8c1d2b9e-0000-4000-8000-000000000001",
    "occurred_at": "2026-01-05T09:00:00+00:00",
    "directory_id": "8c1d2b9e-0000-4000-8000-000000000002",
    "payload": {"role_id": "r"},
}


def test_the_documented_five_line_receiver_check_accepts_our_signature() -> None:
    body = webhooks.body("generic", "delivery-1", EVENT, CONTENT)
    stamp = str(int(time.time()))
    header = webhooks.signature(SECRET, stamp, body)

    def verify(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
        expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
        fresh = abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest("sha256=" + expected.hexdigest(), signature)

    assert verify(SECRET.encode(), body, stamp, header)
    assert not verify(SECRET.encode(), body + b" ", stamp, header)
    assert not verify(b"another secret", body, stamp, header)
    assert not verify(SECRET.encode(), body, str(int(stamp) - 3600), header)


def test_body_formats() -> None:
    generic = json.loads(webhooks.body("generic", "d-1", EVENT, CONTENT))
    assert generic["id"] == "d-1" and generic["event"] == "role.activated"
    assert generic["facts"] == {"Who": "Alice", "Role": "Password Administrator"}
    assert generic["data"] == {"role_id": "r"} and generic["subject"].startswith("PIM: ")

    slack = json.loads(webhooks.body("slack", "d-1", EVENT, CONTENT))
    assert slack["text"].startswith("PIM: Alice activated")
    assert slack["blocks"][1]["text"]["text"] == (
        "Alice activated the &lt;Password Administrator&gt; role &amp; more."
    )
    assert slack["blocks"][-1]["elements"][0]["url"] == CONTENT["link"]

    teams = json.loads(webhooks.body("teams", "d-1", EVENT, CONTENT))
    card = teams["attachments"][0]["content"]
    assert teams["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard"
    assert card["body"][2]["facts"][0] == {"title": "Who", "value": "Alice"}
    assert card["actions"][0]["url"] == CONTENT["link"]

    assert webhooks.body("slack", "d-1", EVENT, CONTENT) == webhooks.body(
        "slack", "d-1", EVENT, CONTENT
    )


def test_a_webhook_gets_only_the_event_types_it_asked_for(env: Env) -> None:
    directory, admin = env.pim_directory()
    receiver = Receiver(secret=SECRET)
    server = WebhookServer(receiver).start()
    try:
        webhook(env, directory, receiver.url, event_types=["role.activated", "alert.*"])
        user = env.user(directory, "ivy")
        assign(env, admin, user, PASSWORD_ADMIN, MemberType.ELIGIBLE)
        activate(env, user, PASSWORD_ADMIN)
        with env.ctx(Actor.system()) as ctx:
            enqueue(
                ctx, "alert.raised", {"alert": "x", "severity": "low"}, directory_id=directory.id
            )
        assert deliver(env).delivered == 2
    finally:
        server.stop()
    assert sorted(h.event for h in receiver.hits) == ["alert.raised", "role.activated"]
    body = json.loads(next(h.body for h in receiver.hits if h.event == "role.activated"))
    assert body["facts"]["Role"] == "Password Administrator"
    assert body["link"].endswith(f"/roles/{PASSWORD_ADMIN}")


def test_a_slack_webhook_receives_slack_blocks(env: Env) -> None:
    directory, admin = env.pim_directory()
    receiver = Receiver(secret=SECRET)
    server = WebhookServer(receiver).start()
    try:
        webhook(env, directory, receiver.url, format="slack")
        assign(env, admin, env.user(directory, "jack"), PASSWORD_ADMIN, MemberType.ELIGIBLE)
        assert deliver(env).delivered == 1
    finally:
        server.stop()
    body = json.loads(receiver.hits[0].body)
    assert body["text"].startswith("PIM: You are now eligible for Password Administrator")
    assert receiver.hits[0].signature_ok
