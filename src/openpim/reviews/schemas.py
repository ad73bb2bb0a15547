"""API shapes of access reviews. Durations travel as ISO-8601 ("P14D")."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from openpim.policies.schemas import IsoDuration
from openpim.reviews.apply import ApplySummary
from openpim.reviews.models import AccessReviewItem
from openpim.reviews.rules import ReviewSpec
from openpim.reviews.service import ReviewProgress


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    role_ids: list[uuid.UUID] = Field(description="One review is created per role", max_length=50)
    start_at: AwareDatetime | None = Field(default=None, description="Default: now")
    end_at: AwareDatetime | None = None
    duration: IsoDuration | None = Field(default=None, description="Instead of end_at, e.g. P14D")
    reviewer_mode: str = Field(default="selected", description="selected or self")
    reviewer_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    scope: str = Field(default="both", description="eligible, active or both")
    require_reason_on_approval: bool = True
    show_recommendations: bool = True
    default_decision: str = Field(
        default="no_change", description="no_change, remove, approve or recommendation"
    )
    auto_apply: bool = False
    recurrence: str = Field(
        default="none", description="none, weekly, monthly, quarterly, semiannually, annually"
    )

    def spec(self) -> ReviewSpec:
        return ReviewSpec(**self.model_dump())


class ReviewOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    role_id: uuid.UUID
    role: str | None
    status: str
    start_at: datetime
    end_at: datetime
    reviewer_mode: str
    reviewer_ids: list[uuid.UUID]
    scope: str
    require_reason_on_approval: bool
    show_recommendations: bool
    default_decision: str
    auto_apply: bool
    recurrence: str
    series_id: uuid.UUID
    instance: int
    next_review_id: uuid.UUID | None
    created_at: datetime
    created_by: str
    started_at: datetime | None
    completed_at: datetime | None
    stopped_at: datetime | None
    applied_at: datetime | None
    members: int
    decided: int
    pending_for_me: int | None

    @classmethod
    def of(cls, p: ReviewProgress) -> ReviewOut:
        r = p.review
        return cls(
            id=r.id, name=r.name, description=r.description, role_id=r.role_id, role=p.role,
            status=r.status, start_at=r.start_at, end_at=r.end_at,
            reviewer_mode=r.reviewer_mode, reviewer_ids=p.reviewer_ids, scope=r.scope,
            require_reason_on_approval=r.require_reason_on_approval,
            show_recommendations=r.show_recommendations, default_decision=r.default_decision,
            auto_apply=r.auto_apply, recurrence=r.recurrence, series_id=r.series_id,
            instance=r.instance, next_review_id=r.next_review_id, created_at=r.created_at,
            created_by=r.created_by_label, started_at=r.started_at,
            completed_at=r.completed_at, stopped_at=r.stopped_at, applied_at=r.applied_at,
            members=p.total, decided=p.decided, pending_for_me=p.pending_for_me,
        )  # fmt: skip


class ReviewListOut(BaseModel):
    value: list[ReviewOut]


class ItemOut(BaseModel):
    id: uuid.UUID
    review_id: uuid.UUID
    principal_id: uuid.UUID
    principal: str
    member_type: str
    member_since: datetime
    member_until: datetime | None
    # Shown when the review shows recommendations (always to PIM's readers).
    recommendation: str | None
    recommendation_reason: str | None
    last_sign_in_at: datetime | None
    last_activation_at: datetime | None
    decision: str
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    # Send back as expected_version to change a decision.
    version: int
    outcome: str | None
    applied_result: str | None
    applied_detail: str | None

    @classmethod
    def of(cls, i: AccessReviewItem, *, show: bool) -> ItemOut:
        return cls(
            id=i.id, review_id=i.review_id, principal_id=i.principal_id,
            principal=i.principal_label, member_type=i.member_type,
            member_since=i.schedule_start_at, member_until=i.schedule_end_at,
            recommendation=i.recommendation if show else None,
            recommendation_reason=i.recommendation_reason if show else None,
            last_sign_in_at=i.last_sign_in_at if show else None,
            last_activation_at=i.last_activation_at if show else None,
            decision=i.decision, decision_reason=i.decision_reason,
            decided_by=i.decided_by_label, decided_at=i.decided_at, version=i.version,
            outcome=i.outcome, applied_result=i.applied_result, applied_detail=i.applied_detail,
        )  # fmt: skip


class ItemListOut(BaseModel):
    value: list[ItemOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(description="Approve, Deny or DontKnow")
    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = Field(
        default=None, description="To change an earlier decision: the item's version as read"
    )


class OutcomesOut(BaseModel):
    outcomes: dict[str, int]


class CountOut(BaseModel):
    count: int


class ApplyOut(BaseModel):
    review_id: uuid.UUID
    removed: int
    already_gone: int
    failed: int
    kept: int
    already_applied: bool

    @classmethod
    def of(cls, s: ApplySummary) -> ApplyOut:
        return cls(
            review_id=s.review_id, removed=s.removed, already_gone=s.already_gone,
            failed=s.failed, kept=s.kept, already_applied=s.already_applied,
        )  # fmt: skip
