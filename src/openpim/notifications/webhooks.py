"""Webhook bodies (generic JSON, Slack, Microsoft Teams), their signature, and sending.

Every request carries:
  X-OpenPIM-Delivery   the delivery's stable id: the same on every retry, so drop duplicates
  X-OpenPIM-Event      the event type
  X-OpenPIM-Timestamp  Unix seconds when this attempt was signed
  X-OpenPIM-Signature  sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A receiver verifies in five lines (reject old timestamps to stop replays):

    import hashlib, hmac, time
    def verify(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
        expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
        fresh = abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest("sha256=" + expected.hexdigest(), signature)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx

SIGNATURE_PREFIX = "sha256="
USER_AGENT = "OpenPIM-Webhook/1"
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
MAX_ERROR_BODY = 200


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None
    status_code: int | None = None
    # Retrying cannot help (the receiver refused the request itself): dead-letter at once.
    permanent: bool = False


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature_header: str, *, now: float, tolerance: int
) -> bool:
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), signature_header)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _generic(delivery_id: str, event: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "event": event["event_type"],
        "event_id": event["outbox_id"],
        "occurred_at": event["occurred_at"],
        "directory_id": event["directory_id"],
        "subject": content["subject"],
        "summary": content["intro"],
        "action_needed": content.get("action_needed", False),
        "link": content["link"],
        "facts": {label: value for label, value in content["facts"]},
        "data": event["payload"],
    }


def _slack(content: dict[str, Any]) -> dict[str, Any]:
    fields = [
        {"type": "mrkdwn", "text": f"*{_slack_escape(label)}*\n{_slack_escape(str(value))}"}
        for label, value in content["facts"][:10]  # Slack allows ten fields per section
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": content["subject"][:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(content["intro"])}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in PIM"},
                    "url": content["link"],
                }
            ],
        }
    )
    text = f"{_slack_escape(content['subject'])} <{content['link']}|Open in PIM>"
    return {"text": text, "blocks": blocks}


def _teams(content: dict[str, Any]) -> dict[str, Any]:
    # An Adaptive Card message: what Teams Workflows ("post to a channel when a webhook
    # request is received") and the older incoming webhooks both accept.
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": content["subject"], "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": content["intro"], "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": label, "value": str(value)} for label, value in content["facts"]
                ],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in PIM", "url": content["link"]}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def body(fmt: str, delivery_id: str, event: dict[str, Any], content: dict[str, Any]) -> bytes:
    """The request body: deterministic, so a retry sends byte-for-byte the same thing."""
    if fmt == "slack":
        data = _slack(content)
    elif fmt == "teams":
        data = _teams(content)
    else:
        data = _generic(delivery_id, event, content)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def post(
    client: httpx.Client,
    *,
    url: str,
    secret: str,
    delivery_id: str,
    event_type: str,
    payload: bytes,
    timestamp: int,
) -> SendResult:
    stamp = str(timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OpenPIM-Delivery": delivery_id,
        "X-OpenPIM-Event": event_type,
        "X-OpenPIM-Timestamp": stamp,
        "X-OpenPIM-Signature": signature(secret, stamp, payload),
    }
    try:
        response = client.post(url, content=payload, headers=headers)
    except httpx.TimeoutException as exc:
        return SendResult(False, f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return SendResult(False, f"{type(exc).__name__}: {str(exc)[:MAX_ERROR_BODY]}")
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, status_code=code)
    text = " ".join(response.text[:MAX_ERROR_BODY].split())
    permanent = 300 <= code < 500 and code not in _RETRYABLE_4XX
    return SendResult(False, f"HTTP {code}{': ' + text if text else ''}", code, permanent)
