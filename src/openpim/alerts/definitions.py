"""The seven alerts: what each one means, its severity, thresholds (with bounds) and fixes.

Bounds follow Microsoft's documented ranges where it documents one (Global Administrator count
2-100, activation count 2-100, days without activation 0-100, days without sign-in 1-365); the
rest are ours and are written here, in one place, so the API, the CLI and the portal refuse the
same values with the same error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openpim.kit.errors import NotFound, ValidationFailed


class AlertType(StrEnum):
    OUTSIDE_PIM = "roles_assigned_outside_pim"
    TOO_MANY_GLOBAL_ADMINS = "too_many_global_admins"
    TOO_FREQUENT_ACTIVATION = "roles_activated_too_frequently"
    NO_MFA_ON_ACTIVATION = "roles_without_mfa_on_activation"
    UNUSED_ROLES = "admins_not_using_privileged_roles"
    STALE_ACCOUNTS = "stale_accounts_in_privileged_roles"
    TOO_FEW_PRAS = "too_few_privileged_role_administrators"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FixAction(StrEnum):
    REQUIRE_MFA = "require_mfa"
    REMOVE_ASSIGNMENT = "remove_assignment"
    MAKE_ELIGIBLE = "make_eligible"


@dataclass(frozen=True)
class Threshold:
    name: str
    minimum: int
    maximum: int
    default: int
    description: str


@dataclass(frozen=True)
class AlertDefinition:
    type: AlertType
    name: str
    severity: Severity
    description: str
    trigger: str
    thresholds: tuple[Threshold, ...] = ()
    fixes: tuple[FixAction, ...] = ()
    defaults: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", {t.name: t.default for t in self.thresholds})


DEFINITIONS: dict[AlertType, AlertDefinition] = {
    d.type: d
    for d in (
        AlertDefinition(
            AlertType.OUTSIDE_PIM,
            "Roles assigned outside PIM",
            Severity.HIGH,
            "An active role assignment that no PIM request made: an import, a sync, or a row "
            "written straight into the database.",
            "an active assignment without a granted PIM request for the same user and role "
            "that names it as its result (the bootstrap Global Administrator is recognised by "
            "its audit event)",
            fixes=(FixAction.REMOVE_ASSIGNMENT, FixAction.MAKE_ELIGIBLE),
        ),
        AlertDefinition(
            AlertType.TOO_MANY_GLOBAL_ADMINS,
            "Too many Global Administrators",
            Severity.LOW,
            "Global Administrator is the most powerful role; the fewer hold it, the smaller "
            "the target.",
            "more than global_admin_count users hold Global Administrator (eligible or active) "
            "and they are more than global_admin_percent % of all role members",
            thresholds=(
                Threshold("global_admin_count", 2, 100, 3, "Global Administrators allowed"),
                Threshold("global_admin_percent", 0, 100, 10, "share of all admins, in percent"),
            ),
            fixes=(FixAction.MAKE_ELIGIBLE, FixAction.REMOVE_ASSIGNMENT),
        ),
        AlertDefinition(
            AlertType.TOO_FREQUENT_ACTIVATION,
            "Roles activated too frequently",
            Severity.MEDIUM,
            "Many activations of one role by one user in a short time suggest the activation "
            "length is too short, or someone automating around it.",
            "one user started activation_count or more activations of one role within the "
            "last window_hours hours",
            thresholds=(
                Threshold("activation_count", 2, 100, 5, "activations of one role"),
                Threshold("window_hours", 1, 720, 24, "time window, in hours"),
            ),
        ),
        AlertDefinition(
            AlertType.NO_MFA_ON_ACTIVATION,
            "Roles don't require MFA for activation",
            Severity.MEDIUM,
            "Without multi-factor authentication, a stolen password is enough to activate.",
            "a role's settings do not require MFA on activation",
            fixes=(FixAction.REQUIRE_MFA,),
        ),
        AlertDefinition(
            AlertType.UNUSED_ROLES,
            "Administrators aren't using their privileged roles",
            Severity.LOW,
            "Privileged roles nobody uses are attack surface without benefit.",
            "a member of a privileged role (eligible or assigned) has neither activated it nor "
            "been given it in the last `days` days",
            thresholds=(Threshold("days", 0, 100, 30, "days without activation"),),
            fixes=(FixAction.REMOVE_ASSIGNMENT,),
        ),
        AlertDefinition(
            AlertType.STALE_ACCOUNTS,
            "Potential stale accounts in a privileged role",
            Severity.MEDIUM,
            "An account nobody signs in with is easy to take over unnoticed.",
            "an enabled member of a privileged role has not signed in for more than `days` "
            "days (never signed in: counted from the account's creation)",
            thresholds=(Threshold("days", 1, 365, 90, "days without sign-in"),),
            fixes=(FixAction.REMOVE_ASSIGNMENT,),
        ),
        AlertDefinition(
            AlertType.TOO_FEW_PRAS,
            "Fewer than two Privileged Role Administrators",
            Severity.MEDIUM,
            "Only a Privileged Role Administrator can change PIM; with one, a lost account "
            "locks the directory's PIM.",
            "fewer than two enabled organizational users hold Privileged Role Administrator "
            "(eligible or active)",
        ),
    )
}


def definition(alert_type: str) -> AlertDefinition:
    try:
        return DEFINITIONS[AlertType(alert_type)]
    except ValueError:
        raise NotFound(
            f"There is no alert {alert_type!r}; known alerts: "
            f"{', '.join(t.value for t in AlertType)}.",
            code="alert_not_found",
        ) from None


def effective_thresholds(alert: AlertDefinition, stored: dict[str, Any] | None) -> dict[str, int]:
    """The defaults overlaid with the stored values (stored ones were checked when saved)."""
    values = dict(alert.defaults)
    for name, value in (stored or {}).items():
        if name in values and isinstance(value, int):
            values[name] = value
    return values


def validate_thresholds(alert: AlertDefinition, changes: dict[str, Any]) -> dict[str, int]:
    """Refuse unknown names, non-integers and values outside the documented bounds."""
    known = {t.name: t for t in alert.thresholds}
    out: dict[str, int] = {}
    for name, value in changes.items():
        spec = known.get(name)
        if spec is None:
            allowed = ", ".join(known) or "none"
            raise ValidationFailed(
                f"The alert {alert.name!r} has no threshold {name!r} (it has: {allowed}).",
                code="unknown_threshold",
                field=f"thresholds.{name}",
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(
                f"{name} must be a whole number.",
                code="threshold_not_integer",
                field=f"thresholds.{name}",
            )
        if not spec.minimum <= value <= spec.maximum:
            raise ValidationFailed(
                f"{name} must be between {spec.minimum} and {spec.maximum}, got {value}.",
                code="threshold_out_of_bounds",
                field=f"thresholds.{name}",
                extra={"minimum": spec.minimum, "maximum": spec.maximum},
            )
        out[name] = value
    return out
