"""The access review service: every operation adapters call, and the reads behind the pages.

Administrators (an active PRA) create, remind, stop, reset, complete, apply, export and delete;
PIM's readers see every review; reviewers see the reviews they review and decide their items.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, case, delete, func, or_, select, update

from openpim.auth.permissions import can_read_all, require_manage, require_read_all
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import Conflict, ValidationFailed
from openpim.kit.pagination import require_page
from openpim.reviews.apply import ApplySummary, apply_review
from openpim.reviews.common import audit_review, load_review, role_label
from openpim.reviews.decisions import (
    decide,
    is_reviewer,
    remind,
    require_review_reader,
    reset_decisions,
)
from openpim.reviews.lifecycle import create_reviews, due_conditions, finish_review
from openpim.reviews.models import AccessReview, AccessReviewItem, AccessReviewReviewer
from openpim.reviews.rules import Decision, ReviewerMode, ReviewSpec, ReviewStatus
from openpim.reviews.snapshot import start_review
from openpim.runtime import Runtime

__all__ = [
    "ApplySummary",
    "ReviewProgress",
    "ReviewSpec",
    "apply_review",
    "complete_review",
    "create_reviews",
    "decide",
    "delete_review",
    "export_csv",
    "export_statement",
    "get_review",
    "is_reviewer",
    "list_items",
    "list_reviews",
    "my_reviews",
    "ongoing_reviews",
    "remind",
    "reset_decisions",
    "reviews_due",
    "stop_review",
]

MAX_PAGE = 500
REVIEW_WORKER = Actor.system("system:access-reviews")


@dataclass(frozen=True)
class ReviewProgress:
    review: AccessReview
    role: str | None
    total: int
    decided: int
    reviewer_ids: list[uuid.UUID]
    # For a reviewer: members still waiting for their decision.
    pending_for_me: int | None = None

    @property
    def not_reviewed(self) -> int:
        return self.total - self.decided


@dataclass
class DueSummary:
    started: list[uuid.UUID] = field(default_factory=list)
    completed: list[uuid.UUID] = field(default_factory=list)


def _progress(ctx: Ctx, reviews: list[AccessReview]) -> list[ReviewProgress]:
    if not reviews:
        return []
    ids = [r.id for r in reviews]
    decided = AccessReviewItem.decision != Decision.NOT_REVIEWED
    counts = {
        review_id: (int(total), int(done or 0))
        for review_id, total, done in ctx.session.execute(
            select(
                AccessReviewItem.review_id,
                func.count(),
                func.sum(case((decided, 1), else_=0)),
            )
            .where(AccessReviewItem.review_id.in_(ids))
            .group_by(AccessReviewItem.review_id)
        )
    }
    reviewers: dict[uuid.UUID, list[uuid.UUID]] = {}
    for review_id, user_id in ctx.session.execute(
        select(AccessReviewReviewer.review_id, AccessReviewReviewer.user_id).where(
            AccessReviewReviewer.review_id.in_(ids)
        )
    ):
        reviewers.setdefault(review_id, []).append(user_id)
    return [
        ReviewProgress(
            review=r,
            role=role_label(ctx, r.role_id),
            total=counts.get(r.id, (0, 0))[0],
            decided=counts.get(r.id, (0, 0))[1],
            reviewer_ids=reviewers.get(r.id, []),
        )
        for r in reviews
    ]


# --- reading ----------------------------------------------------------------------------------


def list_reviews(
    ctx: Ctx, directory_id: uuid.UUID, *, status: str | None = None, limit: int = 100
) -> list[ReviewProgress]:
    require_read_all(ctx, directory_id)
    stmt = select(AccessReview).where(AccessReview.directory_id == directory_id)
    if status is not None:
        try:
            stmt = stmt.where(AccessReview.status == ReviewStatus(status))
        except ValueError:
            raise ValidationFailed(
                "status must be NotStarted, InProgress, Completed or Applied.",
                code="invalid_status",
                field="status",
            ) from None
    stmt = stmt.order_by(AccessReview.start_at.desc(), AccessReview.id).limit(min(limit, MAX_PAGE))
    return _progress(ctx, list(ctx.session.scalars(stmt)))


def ongoing_reviews(ctx: Ctx, directory_id: uuid.UUID) -> list[ReviewProgress]:
    """Reviews in progress with how far along they are: the dashboard's tile."""
    return list_reviews(ctx, directory_id, status=ReviewStatus.IN_PROGRESS)


def get_review(ctx: Ctx, review_id: uuid.UUID) -> ReviewProgress:
    review = load_review(ctx, review_id)
    require_review_reader(ctx, review)
    return _progress(ctx, [review])[0]


def my_reviews(ctx: Ctx) -> list[ReviewProgress]:
    """Reviews in progress where the caller has members to decide ("Review access")."""
    user_id = ctx.actor.user_id
    if user_id is None:
        return []
    named = select(AccessReviewReviewer.review_id).where(AccessReviewReviewer.user_id == user_id)
    own = select(AccessReviewItem.review_id).where(AccessReviewItem.principal_id == user_id)
    reviews = list(
        ctx.session.scalars(
            select(AccessReview)
            .where(
                AccessReview.status == ReviewStatus.IN_PROGRESS,
                AccessReview.directory_id == ctx.actor.directory_id,
                or_(
                    (AccessReview.reviewer_mode == ReviewerMode.SELECTED)
                    & AccessReview.id.in_(named),
                    (AccessReview.reviewer_mode == ReviewerMode.SELF) & AccessReview.id.in_(own),
                ),
            )
            .order_by(AccessReview.end_at)
        )
    )
    out = []
    for progress in _progress(ctx, reviews):
        pending = select(func.count()).where(
            AccessReviewItem.review_id == progress.review.id,
            AccessReviewItem.decision == Decision.NOT_REVIEWED,
        )
        if progress.review.reviewer_mode == ReviewerMode.SELF:
            pending = pending.where(AccessReviewItem.principal_id == user_id)
        out.append(replace(progress, pending_for_me=int(ctx.session.execute(pending).scalar_one())))
    return out


def list_items(
    ctx: Ctx,
    review_id: uuid.UUID,
    *,
    pending_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AccessReviewItem], bool]:
    """Members under review; returns (items, whether recommendations may be shown).

    Readers and selected reviewers see every member; in a self-review a member sees their own.
    """
    review = load_review(ctx, review_id)
    require_review_reader(ctx, review)
    require_page(limit, MAX_PAGE, offset=offset, code="invalid_page")
    reader = can_read_all(ctx, review.directory_id)
    stmt = select(AccessReviewItem).where(AccessReviewItem.review_id == review.id)
    if review.reviewer_mode == ReviewerMode.SELF and not reader:
        stmt = stmt.where(AccessReviewItem.principal_id == ctx.actor.user_id)
    if pending_only:
        stmt = stmt.where(AccessReviewItem.decision == Decision.NOT_REVIEWED)
    stmt = stmt.order_by(
        AccessReviewItem.principal_label, AccessReviewItem.member_type, AccessReviewItem.id
    )
    items = list(ctx.session.scalars(stmt.limit(limit).offset(offset)))
    return items, review.show_recommendations or reader


# --- administering ----------------------------------------------------------------------------


def stop_review(ctx: Ctx, review_id: uuid.UUID) -> dict[str, int]:
    """End a review before its end date; its outcomes are fixed as at completion."""
    review = load_review(ctx, review_id)
    require_manage(ctx, review.directory_id)
    return finish_review(ctx, review, stopped=ctx.now < review.end_at)


def complete_review(ctx: Ctx, review_id: uuid.UUID) -> dict[str, int]:
    """Complete a review in progress now (the worker does it at the end date)."""
    return stop_review(ctx, review_id)


def delete_review(ctx: Ctx, review_id: uuid.UUID) -> None:
    """Delete a review and its items; the audit keeps its history."""
    review = load_review(ctx, review_id, lock=True)
    require_manage(ctx, review.directory_id)
    counts = _progress(ctx, [review])[0]
    ctx.session.execute(
        update(AccessReview)
        .where(AccessReview.next_review_id == review.id)
        .values(next_review_id=None)
        .execution_options(synchronize_session=False)
    )
    ctx.session.execute(delete(AccessReviewItem).where(AccessReviewItem.review_id == review.id))
    ctx.session.execute(
        delete(AccessReviewReviewer).where(AccessReviewReviewer.review_id == review.id)
    )
    audit_review(
        ctx, "review.deleted", review, status=review.status, members=counts.total,
        decided=counts.decided,
    )  # fmt: skip
    ctx.session.delete(review)
    ctx.session.flush()


# --- export -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "review_id", "review", "role", "member", "member_id", "member_type", "member_since",
    "member_until", "last_sign_in_at", "last_activation_at", "recommendation",
    "recommendation_reason", "decision", "decision_reason", "decided_by", "decided_at",
    "outcome", "outcome_source", "applied_result", "applied_detail", "applied_at",
)  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    text = str(value)
    # A spreadsheet would run "=HYPERLINK(...)" typed into a reason as a formula.
    return "'" + text if text.startswith(_FORMULA) else text


@dataclass(frozen=True)
class ExportTarget:
    """What the streamed export needs, detached from the session that authorised it."""

    id: uuid.UUID
    name: str


def export_statement(ctx: Ctx, review_id: uuid.UUID) -> tuple[ExportTarget, str | None]:
    """Authorise a CSV export now (a refusal is a clean 403 before any byte is sent)."""
    review = load_review(ctx, review_id)
    require_read_all(ctx, review.directory_id)
    return ExportTarget(review.id, review.name), role_label(ctx, review.role_id)


def _csv_row(review: ExportTarget, role: str | None, i: Any) -> list[str]:
    values = (
        review.id, review.name, role, i.principal_label, i.principal_id, i.member_type,
        i.schedule_start_at, i.schedule_end_at, i.last_sign_in_at, i.last_activation_at,
        i.recommendation, i.recommendation_reason, i.decision, i.decision_reason,
        i.decided_by_label, i.decided_at, i.outcome, i.outcome_source, i.applied_result,
        i.applied_detail, i.applied_at,
    )  # fmt: skip
    return [_cell(v) for v in values]


def export_csv(
    engine: Engine, review: ExportTarget, role: str | None, *, batch_size: int = 1000
) -> Iterator[str]:
    """The review's results as CSV, streamed from its own connection in batches."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    items = cast(Table, AccessReviewItem.__table__)
    stmt = (
        select(items)
        .where(items.c.review_id == review.id)
        .order_by(items.c.principal_label, items.c.member_type)
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(stmt)
        try:
            for partition in result.partitions(batch_size):
                writer.writerows(_csv_row(review, role, i) for i in partition)
                yield _drain(buffer)
        finally:
            result.close()
            conn.rollback()


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# --- the worker -------------------------------------------------------------------------------


def reviews_due(runtime: Runtime, *, now: datetime | None = None, limit: int = 100) -> DueSummary:
    """Start reviews whose start has come and complete those whose end has passed.

    One transaction per review; a review another worker holds is skipped (SKIP LOCKED).
    Completion applies (auto-apply) and schedules the next instance (recurrence) as configured.
    """
    instant = now or runtime.clock.now()
    summary = DueSummary()
    with runtime.read(REVIEW_WORKER) as ctx:
        due = list(
            ctx.session.scalars(
                select(AccessReview.id)
                .where(due_conditions(instant))
                .order_by(AccessReview.start_at)
                .limit(limit)
            )
        )
    for review_id in due:
        with runtime.unit(REVIEW_WORKER) as unit_ctx:
            ctx = replace(unit_ctx, clock=FrozenClock(instant))
            review = ctx.session.execute(
                select(AccessReview)
                .where(AccessReview.id == review_id, due_conditions(instant))
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if review is None:
                continue
            try:
                if review.status == ReviewStatus.NOT_STARTED:
                    start_review(ctx, review)
                    summary.started.append(review.id)
                else:
                    finish_review(ctx, review, stopped=False)
                    summary.completed.append(review.id)
            except Conflict:
                continue  # someone else moved it on first
    return summary
