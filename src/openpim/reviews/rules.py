"""The vocabulary of access reviews and the checks on what an administrator asks for."""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from openpim.kit.clock import ensure_utc
from openpim.kit.errors import ValidationFailed

NAME_MAX = 200
DESCRIPTION_MAX = 2000
REASON_MAX = 500
MAX_ROLES = 50
MAX_REVIEWERS = 100
MIN_DURATION = timedelta(days=1)
MAX_DURATION = timedelta(days=365)
E = TypeVar("E", bound=StrEnum)

# Recommendation: approve when the member signed in or activated within this long.
RECENT_ACTIVITY = timedelta(days=30)


class ReviewStatus(StrEnum):
    NOT_STARTED = "NotStarted"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    APPLIED = "Applied"


class Decision(StrEnum):
    NOT_REVIEWED = "NotReviewed"
    APPROVE = "Approve"
    DENY = "Deny"
    DONT_KNOW = "DontKnow"


class Outcome(StrEnum):
    APPROVE = "Approve"
    DENY = "Deny"
    NO_CHANGE = "NoChange"


class ReviewerMode(StrEnum):
    SELECTED = "selected"
    SELF = "self"


class Scope(StrEnum):
    ELIGIBLE = "eligible"
    ACTIVE = "active"
    BOTH = "both"


class DefaultDecision(StrEnum):
    NO_CHANGE = "no_change"
    REMOVE = "remove"
    APPROVE = "approve"
    RECOMMENDATION = "recommendation"


class Recurrence(StrEnum):
    NONE = "none"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUALLY = "semiannually"
    ANNUALLY = "annually"


_MONTHS = {
    Recurrence.MONTHLY: 1,
    Recurrence.QUARTERLY: 3,
    Recurrence.SEMIANNUALLY: 6,
    Recurrence.ANNUALLY: 12,
}


def add_months(instant: datetime, months: int) -> datetime:
    """The same day and time `months` later; the 31st becomes the month's last day."""
    month_index = instant.month - 1 + months
    year, month = instant.year + month_index // 12, month_index % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def next_start(start: datetime, recurrence: Recurrence) -> datetime:
    if recurrence == Recurrence.WEEKLY:
        return start + timedelta(days=7)
    return add_months(start, _MONTHS[recurrence])


def shortest_period(recurrence: Recurrence) -> timedelta | None:
    """The shortest gap between two instances: a review may not outlast it."""
    if recurrence == Recurrence.NONE:
        return None
    if recurrence == Recurrence.WEEKLY:
        return timedelta(days=7)
    return timedelta(days=28 * _MONTHS[recurrence])


@dataclass(frozen=True)
class ReviewSpec:
    """What an administrator asks for. One review is created per role."""

    name: str
    role_ids: list[uuid.UUID]
    reviewer_mode: str = ReviewerMode.SELECTED
    reviewer_ids: list[uuid.UUID] = field(default_factory=list)
    description: str = ""
    start_at: datetime | None = None
    end_at: datetime | None = None
    duration: timedelta | None = None
    scope: str = Scope.BOTH
    require_reason_on_approval: bool = True
    show_recommendations: bool = True
    default_decision: str = DefaultDecision.NO_CHANGE
    auto_apply: bool = False
    recurrence: str = Recurrence.NONE


def _choice(enum: type[E], value: str, name: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ValidationFailed(
            f"{name} must be one of: {allowed}.", code=f"invalid_{name}", field=name
        ) from None


def clean_text(value: str | None, name: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(f"{name} is required.", code=f"{name}_required", field=name)
    if len(text) > limit:
        raise ValidationFailed(
            f"{name} is longer than {limit} characters.", code="too_long", field=name
        )
    return text


@dataclass(frozen=True)
class CheckedSpec:
    name: str
    description: str
    role_ids: list[uuid.UUID]
    reviewer_mode: ReviewerMode
    reviewer_ids: list[uuid.UUID]
    start_at: datetime
    end_at: datetime
    scope: Scope
    default_decision: DefaultDecision
    recurrence: Recurrence


def _aware(value: datetime, name: str) -> datetime:
    try:
        return ensure_utc(value)
    except ValueError:
        raise ValidationFailed(
            f"{name} must carry a time zone.", code="naive_datetime", field=name
        ) from None


def check_spec(spec: ReviewSpec, now: datetime) -> CheckedSpec:
    """Everything that can be checked without the database."""
    name = clean_text(spec.name, "name", NAME_MAX, required=True)
    description = clean_text(spec.description, "description", DESCRIPTION_MAX)
    role_ids = list(dict.fromkeys(spec.role_ids))
    if not 1 <= len(role_ids) <= MAX_ROLES:
        raise ValidationFailed(
            f"Pick 1 to {MAX_ROLES} roles (one review is created per role).",
            code="invalid_roles",
            field="role_ids",
        )
    mode = _choice(ReviewerMode, spec.reviewer_mode, "reviewer_mode")
    reviewers = list(dict.fromkeys(spec.reviewer_ids))
    if mode == ReviewerMode.SELECTED and not 1 <= len(reviewers) <= MAX_REVIEWERS:
        raise ValidationFailed(
            f"Name 1 to {MAX_REVIEWERS} reviewers, or let members review themselves.",
            code="invalid_reviewers",
            field="reviewer_ids",
        )
    if mode == ReviewerMode.SELF and reviewers:
        raise ValidationFailed(
            "Members review themselves: leave reviewer_ids empty.",
            code="invalid_reviewers",
            field="reviewer_ids",
        )
    start = now if spec.start_at is None else max(_aware(spec.start_at, "start_at"), now)
    if (spec.end_at is None) == (spec.duration is None):
        raise ValidationFailed(
            "Give either an end (end_at) or a duration, not both and not neither.",
            code="end_or_duration",
            field="end_at",
        )
    if spec.end_at is not None:
        end, field_name = _aware(spec.end_at, "end_at"), "end_at"
    else:
        assert spec.duration is not None
        try:
            end, field_name = start + spec.duration, "duration"
        except OverflowError:  # P999999999D and the like: no calendar has room for its end
            raise ValidationFailed(
                "A review lasts from 1 to 365 days.", code="invalid_duration", field="duration"
            ) from None
    if not MIN_DURATION <= end - start <= MAX_DURATION:
        raise ValidationFailed(
            "A review lasts from 1 to 365 days.", code="invalid_duration", field=field_name
        )
    recurrence = _choice(Recurrence, spec.recurrence, "recurrence")
    period = shortest_period(recurrence)
    if period is not None and end - start > period:
        raise ValidationFailed(
            f"A {recurrence.value} review must end before the next one starts "
            f"(at most {period.days} days).",
            code="longer_than_recurrence",
            field=field_name,
        )
    return CheckedSpec(
        name=name,
        description=description,
        role_ids=role_ids,
        reviewer_mode=mode,
        reviewer_ids=reviewers,
        start_at=start,
        end_at=end,
        scope=_choice(Scope, spec.scope, "scope"),
        default_decision=_choice(DefaultDecision, spec.default_decision, "default_decision"),
        recurrence=recurrence,
    )
