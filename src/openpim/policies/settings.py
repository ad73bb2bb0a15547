"""The settings of a role (Microsoft's defaults and bounds) as a plain value object."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from openpim.policies.notification_rules import NotificationRules, RecipientType, Stage

# Bounds and defaults from DESIGN.md (Microsoft's documented values).
ACTIVATION_MIN = timedelta(minutes=30)
ACTIVATION_MAX = timedelta(hours=24)
DEFAULT_ACTIVATION_MAX = timedelta(hours=8)
DEFAULT_ELIGIBLE_MAX_DAYS = 365
DEFAULT_ACTIVE_MAX_DAYS = 180
# The shortest schedule anyone may create (activation or assignment).
MINIMUM_SCHEDULE = timedelta(minutes=5)
# Deactivating within this long of activating is refused.
DEACTIVATION_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class RoleSettings:
    role_id: uuid.UUID
    directory_id: uuid.UUID
    activation_max_duration: timedelta = DEFAULT_ACTIVATION_MAX
    require_mfa_on_activation: bool = True
    require_justification_on_activation: bool = True
    require_ticket_on_activation: bool = False
    require_approval_on_activation: bool = False
    approver_ids: tuple[uuid.UUID, ...] = ()
    # Who is emailed about assignments and activations of the role (policies/notification_rules).
    notification_rules: NotificationRules = field(default_factory=NotificationRules)
    eligible_allow_permanent: bool = True
    eligible_max_days: int = DEFAULT_ELIGIBLE_MAX_DAYS
    active_allow_permanent: bool = True
    active_max_days: int = DEFAULT_ACTIVE_MAX_DAYS
    require_mfa_on_active_assignment: bool = False
    require_justification_on_active_assignment: bool = True
    # True for Microsoft's highly privileged roles: require_mfa_on_activation is locked on.
    mfa_locked: bool = False
    is_default: bool = field(default=True, compare=False)

    # The two settings a role had before the nine notification rules: the (activation, admin)
    # rule, "notify the admins on activation" and its extra addresses.
    @property
    def notify_default_recipients(self) -> bool:
        return self.notification_rules.get(Stage.ACTIVATION, RecipientType.ADMIN).default_recipients

    @property
    def notify_extra_recipients(self) -> tuple[str, ...]:
        return self.notification_rules.get(Stage.ACTIVATION, RecipientType.ADMIN).extra_recipients
