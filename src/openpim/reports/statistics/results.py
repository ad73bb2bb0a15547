"""What a statistics report returns: one point per day and one summary per role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class DayPoint:
    day: date
    activations: int
    distinct_users: int
    # Memberships held at the day's last instant (or at the range's end, if earlier).
    eligible: int
    permanent: int  # assigned active memberships (not activations)


@dataclass(frozen=True)
class RoleSummary:
    role_id: uuid.UUID
    role: str
    activations: int
    distinct_users: int
    average_seconds: float | None  # over activations that have ended
    eligible: int  # at the end of the range
    permanent: int


@dataclass(frozen=True)
class RoleStatistics:
    since: datetime
    until: datetime
    role_id: uuid.UUID | None
    roles: list[RoleSummary]
    days: list[DayPoint]
