"""The 17 rules of a role management policy: ids, @odata.types, target caller and level.

Every role's policy has these same 17 rules (as in Entra), so RULES is a constant that the
reading and the PATCH side both dispatch on.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpim.graph.shapes import NS
from openpim.policies.notification_rules import RecipientType, RuleKey, Stage

EXPIRATION = NS + "unifiedRoleManagementPolicyExpirationRule"
ENABLEMENT = NS + "unifiedRoleManagementPolicyEnablementRule"
APPROVAL = NS + "unifiedRoleManagementPolicyApprovalRule"
AUTH_CONTEXT = NS + "unifiedRoleManagementPolicyAuthenticationContextRule"
NOTIFICATION = NS + "unifiedRoleManagementPolicyNotificationRule"
SINGLE_USER = NS + "singleUser"
MFA, JUSTIFICATION, TICKETING = "MultiFactorAuthentication", "Justification", "Ticketing"


@dataclass(frozen=True)
class RuleSpec:
    id: str
    odata_type: str
    caller: str
    level: str
    recipient: str | None = None


def _notifications(caller: str, level: str) -> tuple[RuleSpec, ...]:
    return tuple(
        RuleSpec(f"Notification_{who}_{caller}_{level}", NOTIFICATION, caller, level, who)
        for who in ("Admin", "Requestor", "Approver")
    )


RULES: tuple[RuleSpec, ...] = (
    RuleSpec("Expiration_Admin_Eligibility", EXPIRATION, "Admin", "Eligibility"),
    RuleSpec("Enablement_Admin_Eligibility", ENABLEMENT, "Admin", "Eligibility"),
    *_notifications("Admin", "Eligibility"),
    RuleSpec("Expiration_Admin_Assignment", EXPIRATION, "Admin", "Assignment"),
    RuleSpec("Enablement_Admin_Assignment", ENABLEMENT, "Admin", "Assignment"),
    *_notifications("Admin", "Assignment"),
    RuleSpec("Expiration_EndUser_Assignment", EXPIRATION, "EndUser", "Assignment"),
    RuleSpec("Enablement_EndUser_Assignment", ENABLEMENT, "EndUser", "Assignment"),
    RuleSpec("Approval_EndUser_Assignment", APPROVAL, "EndUser", "Assignment"),
    RuleSpec("AuthenticationContext_EndUser_Assignment", AUTH_CONTEXT, "EndUser", "Assignment"),
    *_notifications("EndUser", "Assignment"),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}
assert len(RULES) == 17

_STAGES = {
    ("Admin", "Eligibility"): Stage.ELIGIBLE_ASSIGNMENT,
    ("Admin", "Assignment"): Stage.ACTIVE_ASSIGNMENT,
    ("EndUser", "Assignment"): Stage.ACTIVATION,
}
_RECIPIENTS = {
    "Admin": RecipientType.ADMIN,
    "Requestor": RecipientType.REQUESTOR,
    "Approver": RecipientType.APPROVER,
}


def notification_key(spec: RuleSpec) -> RuleKey:
    """The role notification rule a Notification_* rule is."""
    return _STAGES[(spec.caller, spec.level)], _RECIPIENTS[str(spec.recipient)]
