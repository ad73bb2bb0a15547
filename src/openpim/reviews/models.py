"""Access reviews, their reviewers, and the snapshot of members being reviewed.

A review covers one role. When it starts, the members in scope are copied into items (the
snapshot): later membership changes do not move what is being reviewed. Each item carries the
reviewer's decision, the evidence behind the recommendation, the outcome fixed at completion,
and what applying did to it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openpim.db.base import Base, UUIDPrimaryKey


class AccessReview(UUIDPrimaryKey, Base):
    __tablename__ = "access_reviews"
    __table_args__ = (
        Index("ix_access_reviews_directory_status", "directory_id", "status", "start_at"),
        Index("ix_access_reviews_series", "series_id", "instance"),
    )

    directory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("directories.id"))
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("role_definitions.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    # "selected" (the reviewer rows below) or "self" (members review themselves).
    reviewer_mode: Mapped[str] = mapped_column(String(16))
    # "eligible", "active" or "both".
    scope: Mapped[str] = mapped_column(String(16))
    require_reason_on_approval: Mapped[bool]
    show_recommendations: Mapped[bool]
    # For members nobody reviewed: "no_change", "remove", "approve" or "recommendation".
    default_decision: Mapped[str] = mapped_column(String(16))
    auto_apply: Mapped[bool]
    # "none", "weekly", "monthly", "quarterly", "semiannually" or "annually".
    recurrence: Mapped[str] = mapped_column(String(16))
    # Instances of one recurring review share a series id and count up.
    series_id: Mapped[uuid.UUID]
    instance: Mapped[int]
    # NotStarted -> InProgress -> Completed -> Applied
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID | None]
    created_by_label: Mapped[str] = mapped_column(String(320))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # Set when an administrator stopped the review before its end.
    stopped_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # The next instance of a recurring review, once created (exactly once: see lifecycle.py).
    next_review_id: Mapped[uuid.UUID | None]


class AccessReviewReviewer(UUIDPrimaryKey, Base):
    __tablename__ = "access_review_reviewers"
    __table_args__ = (UniqueConstraint("review_id", "user_id"),)

    review_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("access_reviews.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)


class AccessReviewItem(UUIDPrimaryKey, Base):
    __tablename__ = "access_review_items"
    __table_args__ = (
        UniqueConstraint("review_id", "principal_id", "member_type"),
        Index("ix_access_review_items_principal", "principal_id", "review_id"),
    )

    review_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("access_reviews.id", ondelete="CASCADE")
    )
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    principal_label: Mapped[str] = mapped_column(String(320))
    # "Eligible" or "Active" (assigned; activations come with their eligibility).
    member_type: Mapped[str] = mapped_column(String(16))
    schedule_id: Mapped[uuid.UUID]
    schedule_start_at: Mapped[datetime]
    schedule_end_at: Mapped[datetime | None]
    # Evidence, as of the snapshot.
    last_sign_in_at: Mapped[datetime | None]
    last_activation_at: Mapped[datetime | None]
    recommendation: Mapped[str] = mapped_column(String(16))
    recommendation_reason: Mapped[str] = mapped_column(String(300))
    # NotReviewed, Approve, Deny, DontKnow. `version` guards concurrent decisions.
    decision: Mapped[str] = mapped_column(String(16), default="NotReviewed")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[uuid.UUID | None]
    decided_by_label: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=0)
    # Fixed at completion: Approve, Deny or NotReviewed (no change), and where it came from
    # ("reviewer", "default", "recommendation").
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_source: Mapped[str | None] = mapped_column(String(16))
    # What applying did: "removed", "already_gone", "failed" (with the reason), or "kept".
    applied_result: Mapped[str | None] = mapped_column(String(16))
    applied_detail: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None]
    applied_request_id: Mapped[uuid.UUID | None]
