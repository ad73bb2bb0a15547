"""A review's life: created, started (members snapshotted), completed (outcomes fixed), and for
recurring reviews the next instance created.

Status changes are conditional updates (... WHERE status = <expected>), so the worker and an
administrator completing the same review at once do it once: one wins, the other gets a 409 (or,
for the worker, skips it). The next instance of a recurring review is created by the winner only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, case, func, insert, or_, select, update

from openpim.assignments.queries import load_directory, load_role
from openpim.auth.permissions import require_manage
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, ValidationFailed
from openpim.notifications.outbox import enqueue
from openpim.reviews.common import audit_review
from openpim.reviews.models import AccessReview, AccessReviewItem, AccessReviewReviewer
from openpim.reviews.rules import (
    CheckedSpec,
    Decision,
    DefaultDecision,
    Outcome,
    Recurrence,
    ReviewerMode,
    ReviewSpec,
    ReviewStatus,
    Scope,
    check_spec,
    next_start,
)
from openpim.reviews.snapshot import start_review

# --- creating ---------------------------------------------------------------------------------


def _check_reviewers(ctx: Ctx, directory_id: uuid.UUID, reviewer_ids: list[uuid.UUID]) -> None:
    if not reviewer_ids:
        return
    found = set(
        ctx.session.scalars(
            select(User.id).where(
                User.id.in_(reviewer_ids),
                User.directory_id == directory_id,
                User.enabled.is_(True),
            )
        )
    )
    missing = [str(r) for r in reviewer_ids if r not in found]
    if missing:
        raise ValidationFailed(
            f"Reviewers must be enabled users of this directory: {', '.join(missing[:5])}.",
            code="invalid_reviewers",
            field="reviewer_ids",
        )


def _new_review(
    ctx: Ctx,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    spec: CheckedSpec,
    *,
    settings: ReviewSpec,
    series_id: uuid.UUID,
    instance: int,
) -> AccessReview:
    review = AccessReview(
        id=uuid.uuid4(),
        directory_id=directory_id,
        role_id=role_id,
        name=spec.name,
        description=spec.description,
        start_at=spec.start_at,
        end_at=spec.end_at,
        reviewer_mode=spec.reviewer_mode,
        scope=spec.scope,
        require_reason_on_approval=settings.require_reason_on_approval,
        show_recommendations=settings.show_recommendations,
        default_decision=spec.default_decision,
        auto_apply=settings.auto_apply,
        recurrence=spec.recurrence,
        series_id=series_id,
        instance=instance,
        status=ReviewStatus.NOT_STARTED,
        created_at=ctx.now,
        created_by_id=ctx.actor.user_id,
        created_by_label=ctx.actor.label,
    )
    ctx.session.add(review)
    ctx.session.flush()
    if spec.reviewer_ids:
        ctx.session.execute(
            insert(cast(Table, AccessReviewReviewer.__table__)),
            [{"id": uuid.uuid4(), "review_id": review.id, "user_id": r} for r in spec.reviewer_ids],
        )
    return review


def create_reviews(ctx: Ctx, directory_id: uuid.UUID, spec: ReviewSpec) -> list[AccessReview]:
    """One review per selected role; a review whose start has come starts at once."""
    require_manage(ctx, directory_id)
    load_directory(ctx, directory_id)
    checked = check_spec(spec, ctx.now)
    for role_id in checked.role_ids:
        load_role(ctx, directory_id, role_id)
    _check_reviewers(ctx, directory_id, checked.reviewer_ids)
    reviews = []
    for role_id in checked.role_ids:
        review = _new_review(
            ctx, directory_id, role_id, checked, settings=spec, series_id=uuid.uuid4(), instance=1
        )
        audit_review(
            ctx,
            "review.created",
            review,
            reviewer_mode=review.reviewer_mode,
            scope=review.scope,
            recurrence=review.recurrence,
            default_decision=review.default_decision,
            auto_apply=review.auto_apply,
        )
        if review.start_at <= ctx.now:
            start_review(ctx, review)
        reviews.append(review)
    return reviews


# --- completing -------------------------------------------------------------------------------


def _fix_outcomes(ctx: Ctx, review: AccessReview) -> dict[str, int]:
    items = cast(Table, AccessReviewItem.__table__)
    default = {
        DefaultDecision.NO_CHANGE: (Outcome.NO_CHANGE, "default"),
        DefaultDecision.REMOVE: (Outcome.DENY, "default"),
        DefaultDecision.APPROVE: (Outcome.APPROVE, "default"),
    }.get(DefaultDecision(review.default_decision))
    unreviewed_outcome: Any = (
        case(
            (items.c.recommendation == Decision.APPROVE, Outcome.APPROVE.value),
            else_=Outcome.DENY.value,
        )
        if default is None
        else default[0].value
    )
    reviewed = items.c.decision != Decision.NOT_REVIEWED
    ctx.session.execute(
        update(items)
        .where(items.c.review_id == review.id)
        .values(
            outcome=case(
                (items.c.decision == Decision.APPROVE, Outcome.APPROVE.value),
                (items.c.decision == Decision.DENY, Outcome.DENY.value),
                (items.c.decision == Decision.DONT_KNOW, Outcome.NO_CHANGE.value),
                else_=unreviewed_outcome,
            ),
            outcome_source=case(
                (reviewed, "reviewer"),
                else_="default" if default is not None else "recommendation",
            ),
        )
    )
    counts = ctx.session.execute(
        select(items.c.outcome, func.count())
        .where(items.c.review_id == review.id)
        .group_by(items.c.outcome)
    ).all()
    return {str(outcome): int(n) for outcome, n in counts}


def finish_review(ctx: Ctx, review: AccessReview, *, stopped: bool) -> dict[str, int]:
    """InProgress -> Completed: fix every item's outcome; apply and recur as configured."""
    values: dict[str, Any] = {"status": ReviewStatus.COMPLETED, "completed_at": ctx.now}
    if stopped:
        values["stopped_at"] = ctx.now
    claimed = ctx.session.execute(
        update(AccessReview)
        .where(AccessReview.id == review.id, AccessReview.status == ReviewStatus.IN_PROGRESS)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        ctx.session.refresh(review)
        raise Conflict(
            f"Only a review in progress can be completed; this one is {review.status}.",
            code="review_not_in_progress",
        )
    ctx.session.refresh(review)
    counts = _fix_outcomes(ctx, review)
    audit_review(ctx, "review.completed", review, stopped_early=stopped, outcomes=counts)
    enqueue(
        ctx,
        "review.completed",
        {"review_id": review.id, "name": review.name, "outcomes": counts},
        directory_id=review.directory_id,
    )
    if review.recurrence != Recurrence.NONE and review.next_review_id is None:
        schedule_next(ctx, review)
    if review.auto_apply:
        from openpim.reviews.apply import apply_outcomes

        apply_outcomes(ctx, review)
    return counts


def schedule_next(ctx: Ctx, review: AccessReview) -> AccessReview:
    """Create the next instance of a recurring review: same settings, one period later."""
    start = next_start(review.start_at, Recurrence(review.recurrence))
    reviewers = list(
        ctx.session.scalars(
            select(AccessReviewReviewer.user_id).where(AccessReviewReviewer.review_id == review.id)
        )
    )
    checked = CheckedSpec(
        name=review.name,
        description=review.description,
        role_ids=[review.role_id],
        reviewer_mode=ReviewerMode(review.reviewer_mode),
        reviewer_ids=reviewers,
        start_at=start,
        end_at=start + (review.end_at - review.start_at),
        scope=Scope(review.scope),
        default_decision=DefaultDecision(review.default_decision),
        recurrence=Recurrence(review.recurrence),
    )
    settings = ReviewSpec(
        name=review.name,
        role_ids=[review.role_id],
        require_reason_on_approval=review.require_reason_on_approval,
        show_recommendations=review.show_recommendations,
        auto_apply=review.auto_apply,
    )
    following = _new_review(
        ctx,
        review.directory_id,
        review.role_id,
        checked,
        settings=settings,
        series_id=review.series_id,
        instance=review.instance + 1,
    )
    review.next_review_id = following.id
    audit_review(
        ctx, "review.created", following, recurrence=following.recurrence,
        series_id=str(review.series_id), instance=following.instance,
        previous_review_id=str(review.id),
    )  # fmt: skip
    if following.start_at <= ctx.now:
        start_review(ctx, following)
    return following


def due_conditions(now: datetime) -> Any:
    return or_(
        and_(AccessReview.status == ReviewStatus.NOT_STARTED, AccessReview.start_at <= now),
        and_(AccessReview.status == ReviewStatus.IN_PROGRESS, AccessReview.end_at <= now),
    )
