"""The messages the notification pages show after a redirect (?msg=key).

One list for both pages: a key from either one is shown on whichever page it lands on.
"""

from __future__ import annotations

from openpim.web.portal import Portal

# A fixed list, so a link cannot inject text.
MESSAGES = {
    "email_saved": "The email channel is saved.",
    "email_removed": "The email channel is removed: no more email is sent.",
    "webhook_added": "The webhook is added.",
    "webhook_saved": "The webhook is saved.",
    "webhook_removed": "The webhook is removed.",
    "test_queued": "A test message is queued: follow it in the delivery log.",
    "retried": "The delivery is queued again.",
    "retried_all": "Every dead-lettered delivery is queued again.",
    "nothing_dead": "No delivery was dead-lettered.",
    "event_retried": "The event is queued again.",
}


def redirect_message(portal: Portal) -> str | None:
    return MESSAGES.get(portal.request.query_params.get("msg", ""))
