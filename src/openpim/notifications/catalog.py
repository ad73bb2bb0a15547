"""What each event type says, to whom, and which portal page it links to.

Subjects, intros and links are Jinja templates rendered with the event's facts (facts.py).
Event types this table does not know (added by later features) still go out: with a default
wording, to the recipients their payload names, and to every webhook.

Payload keys any event may carry to choose its email recipients (for reviews, alerts and
other features that emit events):
  recipient_ids     user ids of the directory (their user principal names are their addresses)
  recipient_emails  extra addresses
  notify_admins     true: also the directory's PRAs, Security and Global Administrators
  link_path         the portal page to link to (a path under the base URL)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Audience(enum.StrEnum):
    """Who gets an event's email. Events about a role's assignments, activations and requests
    follow the role's notification rules instead (role_rules.py); for the two audiences marked
    so that is always the case, for the others when the event's stage can be told."""

    ADMINS = "admins"  # PRAs, Security Administrators, Global Administrators
    ACTIVATION = "activation"  # by role rules: admins and the member who activated, plus extras
    APPROVERS = "approvers"  # by role rules: the role's named approvers, else the PRAs
    MANAGERS = "managers"  # the PRAs (admin decisions on extend/renew)
    REQUESTER = "requester"
    MEMBER = "member"  # the user the schedule belongs to
    PAYLOAD = "payload"  # only what the payload names (see above)
    REVIEWERS = "reviewers"  # an access review's reviewers; the members when they self-review
    HIGH_ALERT = "high_alert"  # ADMINS when the alert's severity is high


@dataclass(frozen=True)
class EventSpec:
    subject: str
    intro: str
    audience: Audience
    link: str
    template: str = "event"
    # Information that asks for action (approve, renew): the rest is "for your information".
    action_needed: bool = False


_MY_ROLES = "/my-roles"
_MY_REQUEST = "/my-requests"

EVENTS: dict[str, EventSpec] = {
    "pim.enabled": EventSpec(
        "Privileged Identity Management was enabled for {{ directory }}",
        "{{ actor }} enabled Privileged Identity Management for {{ directory }}. They are now "
        "a Privileged Role Administrator and Security Administrator, and can start the "
        "security wizard to review who holds privileged roles.",
        Audience.ADMINS,
        "/pim/wizard",
    ),
    "role.activated": EventSpec(
        "{{ who }} activated {{ role }}",
        "{{ who }} activated the {{ role }} role{% if until %} until {{ until }}{% endif %}.",
        Audience.ACTIVATION,
        "/roles/{{ role_id }}",
    ),
    "request.pending_approval": EventSpec(
        "{{ who }} asks to activate {{ role }}",
        "{{ who }} asks to activate the {{ role }} role and needs your approval. The request "
        "expires if nobody decides within 24 hours.",
        Audience.APPROVERS,
        "/approvals",
        action_needed=True,
    ),
    "request.pending_admin_decision": EventSpec(
        "{{ who }} asks to {{ request_verb }} {{ role }}",
        "{{ who }} asks to {{ request_verb }} their {{ role }} role. A Privileged Role "
        "Administrator decides.",
        Audience.MANAGERS,
        "/approvals",
        action_needed=True,
    ),
    "request.approved": EventSpec(
        "Your request for {{ role }} was approved",
        "{{ decided_by }} approved your request for the {{ role }} role.",
        Audience.REQUESTER,
        _MY_REQUEST,
    ),
    "request.denied": EventSpec(
        "Your request for {{ role }} was denied",
        "{{ decided_by }} denied your request for the {{ role }} role.",
        Audience.REQUESTER,
        _MY_REQUEST,
    ),
    "request.timed_out": EventSpec(
        "Your request for {{ role }} expired",
        "Nobody decided on your request for the {{ role }} role in time, so it expired. "
        "You can ask again.",
        Audience.REQUESTER,
        _MY_REQUEST,
    ),
    "assignment.added": EventSpec(
        "You are now {{ member_kind }} for {{ role }}",
        "{{ actor }} made you {{ member_kind }} for the {{ role }} role"
        "{% if until %} until {{ until }}{% else %}, with no end date{% endif %}.",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    "assignment.changed": EventSpec(
        "Your {{ role }} assignment changed",
        "{{ actor }} changed your {{ role }} assignment: you are now {{ member_kind }}"
        "{% if until %} until {{ until }}{% else %}, with no end date{% endif %}.",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    "eligibility.ended": EventSpec(
        "Your eligibility for {{ role }} was removed",
        "You are no longer eligible for the {{ role }} role ({{ reason }}).",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    "assignment.ended": EventSpec(
        "Your {{ role }} assignment was removed",
        "You no longer hold the {{ role }} role ({{ reason }}).",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    "activation.ended": EventSpec(
        "Your {{ role }} activation ended",
        "Your activation of the {{ role }} role ended ({{ reason }}).",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    "eligibility.expired": EventSpec(
        "Your eligibility for {{ role }} expired",
        "Your eligibility for the {{ role }} role reached its end date. Ask an administrator "
        "to renew it if you still need it.",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    "assignment.expired": EventSpec(
        "Your {{ role }} assignment expired",
        "Your {{ role }} assignment reached its end date. Ask an administrator to renew it if "
        "you still need it.",
        Audience.MEMBER,
        _MY_ROLES,
    ),
    # The user chose the duration: an email at its natural end would be noise (webhooks get it).
    "activation.expired": EventSpec(
        "Your {{ role }} activation expired",
        "Your activation of the {{ role }} role reached its end time.",
        Audience.PAYLOAD,
        _MY_ROLES,
    ),
    "reminder.expiring": EventSpec(
        "Your {{ member_kind }} role {{ role }} ends in {{ remaining }}",
        "Your {{ role }} {{ schedule_noun }} ends on {{ until }}. Ask to extend it before then "
        "if you still need it.",
        Audience.MEMBER,
        _MY_ROLES,
        action_needed=True,
    ),
    "digest.weekly": EventSpec(
        "Weekly digest for {{ directory }}",
        "What happened in {{ directory }} between {{ period_start }} and {{ period_end }}.",
        Audience.ADMINS,
        "/dashboard",
        template="digest",
    ),
    "alert.raised": EventSpec(
        "Alert: {{ alert }}",
        "A {{ severity }} severity alert was raised in {{ directory }}: {{ alert }}.",
        Audience.HIGH_ALERT,
        "/alerts",
    ),
    "review.started": EventSpec(
        "Access review started: {{ data.get('name') or role }}",
        "The access review {{ data.get('name') or '' }} of the {{ role }} role has started. "
        "Please approve or deny each member's access before {{ until }}.",
        Audience.REVIEWERS,
        "/my-reviews/{{ data.get('review_id', '') }}",
        action_needed=True,
    ),
    "review.reminder": EventSpec(
        "Reminder: access review {{ data.get('name') or '' }} ends {{ until }}",
        "The access review {{ data.get('name') or '' }} still waits for your decisions. It "
        "ends on {{ until }}.",
        Audience.PAYLOAD,
        "/my-reviews/{{ data.get('review_id', '') }}",
        action_needed=True,
    ),
    "notifications.test": EventSpec(
        "Test message from {{ directory }}",
        "{{ actor }} sent this test message to check the notification channel. No action is "
        "needed.",
        Audience.PAYLOAD,
        "/notifications/channels",
    ),
}

# Other names the same things go by (alerts may be emitted as incidents).
ALIASES = {"alert.incident_raised": "alert.raised", "alert.incident": "alert.raised"}

DEFAULT = EventSpec(
    "{{ event_title }}",
    "{{ event_title }} in {{ directory }}.",
    Audience.PAYLOAD,
    "{{ link_path or '/' }}",
)


def spec_for(event_type: str) -> EventSpec:
    return EVENTS.get(ALIASES.get(event_type, event_type), DEFAULT)
