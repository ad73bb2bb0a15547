"""The catalogue of audit actions: every name the services write, grouped under human titles.

Readers choose from it (the portal's audit history filter offers these groups, and ignores an
action that is not here), so it must list every action an `AuditEntry` can be given, and only
those. tests/audit/test_actions.py reads the source for the actions that can be written and
fails when the two disagree, in either direction.

An action name is hashed into its event (audit/chain.py): a name that has been written is
never renamed, or older histories could no longer be filtered by it. Notification event kinds
(`request.pending_approval`, `eligibility.ended`, `assignment.changed`...) share the dotted
style but are outbox kinds, never audit actions, so they do not belong here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

ACTION_GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "Activations": (
        "activation.activated", "activation.scheduled", "activation.requested",
        "activation.deactivated", "activation.expired", "activation.ended",
        "activation.shortened", "activation.removed", "activation.replaced",
        "activation.failed",
    ),
    "Requests and decisions": (
        "request.approved", "request.denied", "request.canceled", "request.timed_out",
        "request.selfExtend", "request.selfRenew",
    ),
    "Assignments": (
        "eligibility.added", "eligibility.updated", "eligibility.extended",
        "eligibility.renewed", "eligibility.removed", "eligibility.expired",
        "eligibility.made_eligible", "eligibility.converted", "assignment.added",
        "assignment.created", "assignment.updated", "assignment.extended", "assignment.renewed",
        "assignment.removed", "assignment.expired", "assignment.made_permanent",
        "assignment.converted",
    ),
    "Settings and PIM": ("policy.updated", "pim.enabled", "role.created", "role.renamed",
                         "role.deleted"),
    "Users and directories": (
        "directory.created", "domain.added", "domain.removed", "user.created", "user.disabled",
        "user.enabled", "user.password_set",
    ),
    "Sign-in and MFA": (
        "auth.signed_in", "auth.sign_in_mfa_pending", "auth.sign_in_failed",
        "auth.sign_in_rate_limited", "auth.signed_out",
        "auth.session_rotated", "auth.step_up", "auth.step_up_failed",
        "auth.step_up_rate_limited", "auth.password_failed", "auth.password_rate_limited",
        "auth.mfa_failed", "auth.api_token_created", "auth.token_revoked",
        "mfa.enrollment_started", "mfa.enrolled", "mfa.reset",
    ),
    "Alerts": ("alert.raised", "alert.resolved", "alert.dismissed", "alert.fixed",
               "alert.config_updated"),
    "Access reviews": (
        "review.created", "review.started", "review.decided", "review.reminded",
        "review.reset", "review.completed", "review.applied", "review.member_removed",
        "review.deleted",
    ),
    "Notifications": (
        "notifications.email_configured", "notifications.email_removed",
        "notifications.webhook_added", "notifications.webhook_changed",
        "notifications.webhook_removed", "notifications.test_sent",
        "notifications.delivery_retried", "notifications.event_retried",
    ),
}  # fmt: skip

KNOWN_ACTIONS: Final[frozenset[str]] = frozenset(
    action for group in ACTION_GROUPS.values() for action in group
)
