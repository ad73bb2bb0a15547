"""Which of a role's nine notification rules an event answers to, and what "critical" means.

The rules themselves (stages, recipient types, levels, defaults) are in
policies/notification_rules.py. An event answers to one stage and to one or more recipient
types; each recipient type gets the email as its rule says (recipients.resolve):

  event                                   stage (by what it is about)        recipient types
  role.activated                          activation                         admin, requestor
  request.pending_approval                activation                         approver
  request.approved / denied / timed_out   activation for an activation       requestor
                                          request, else the member type's
  request.pending_admin_decision          the member type's (extend/renew)   approver
  assignment.added / assignment.changed,  eligible_assignment or              requestor, admin
  eligibility.ended / assignment.ended    active_assignment (activation for
                                          a schedule that is an activation)

"requestor" is the member the event is about (the assignee, the one who activated) and, for a
decision on a request, whoever asked. Every other event (PIM enabled, expiry and its reminders,
alerts, reviews, the digest...) goes to its catalog audience whatever the role's rules say.

Critical
--------
Entra's "critical emails only" keeps the emails that need the reader to act. OpenPIM uses that
and adds the role's weight, so "critical only" on an admin alert still says when a highly
privileged role moves. An email is critical when, and only when:

  1. it asks its reader to act: approve or deny an activation (request.pending_approval), or
     decide on an extend/renew request (request.pending_admin_decision) - the catalog's
     `action_needed`; or
  2. it is about a highly privileged role: one whose MFA on activation is locked on
     (`RoleSettings.mfa_locked`, Microsoft's 2016 list: Global Administrator, Privileged Role
     Administrator, User, Exchange, SharePoint, Security... Administrator). Its activation, an
     admin adding, changing or removing a member, and decisions on its requests are critical.

So with level Critical, the approvers of any role still get approval requests, and admins and
members hear about highly privileged roles only.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpim.notifications.catalog import EventSpec
from openpim.notifications.facts import Facts
from openpim.policies.notification_rules import RecipientType, Stage

_BY_KIND = {
    "eligibility": Stage.ELIGIBLE_ASSIGNMENT,
    "assignment": Stage.ACTIVE_ASSIGNMENT,
    "activation": Stage.ACTIVATION,
}
_ACTIVATION_ACTIONS = frozenset({"selfActivate", "selfDeactivate"})
_DECISIONS = frozenset({"request.approved", "request.denied", "request.timed_out"})
_MEMBERSHIP = frozenset(
    {"assignment.added", "assignment.changed", "eligibility.ended", "assignment.ended"}
)


@dataclass(frozen=True)
class Governed:
    stage: Stage
    recipients: tuple[RecipientType, ...]


def governing(event_type: str, facts: Facts) -> Governed | None:
    """The stage and recipient types whose rules decide who gets this event's email; None
    for an event the role's rules do not cover (or whose stage cannot be told)."""
    if event_type == "role.activated":
        return Governed(Stage.ACTIVATION, (RecipientType.ADMIN, RecipientType.REQUESTOR))
    if event_type == "request.pending_approval":
        return Governed(Stage.ACTIVATION, (RecipientType.APPROVER,))
    by_kind = _BY_KIND.get(facts.kind)
    if event_type in _DECISIONS:
        stage = Stage.ACTIVATION if facts.action in _ACTIVATION_ACTIONS else by_kind
        return Governed(stage, (RecipientType.REQUESTOR,)) if stage else None
    if event_type == "request.pending_admin_decision" and by_kind is not None:
        return Governed(by_kind, (RecipientType.APPROVER,))
    if event_type in _MEMBERSHIP and by_kind is not None:
        return Governed(by_kind, (RecipientType.REQUESTOR, RecipientType.ADMIN))
    return None


def is_critical(spec: EventSpec, *, highly_privileged: bool) -> bool:
    """The one definition of a critical email (see the module docstring)."""
    return spec.action_needed or highly_privileged
