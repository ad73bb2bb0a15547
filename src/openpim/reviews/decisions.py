"""Reviewers' decisions, and the administrator's reset and reminder.

A decision is a conditional update: without `expected_version` it only lands on an item nobody
has decided yet; with it, only on the item as the caller last saw it. Of two reviewers deciding
the same item at once, exactly one update matches and the other gets a 409 naming who decided.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update

from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import can_read_all, require_manage
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from openpim.notifications.outbox import enqueue
from openpim.reviews.common import audit_review, load_review, role_label
from openpim.reviews.models import AccessReview, AccessReviewItem, AccessReviewReviewer
from openpim.reviews.rules import REASON_MAX, Decision, ReviewerMode, ReviewStatus, clean_text


def is_reviewer(ctx: Ctx, review: AccessReview) -> bool:
    """Named as a reviewer (selected users), or a member of a self-review."""
    user_id = ctx.actor.user_id
    if user_id is None or ctx.actor.directory_id != review.directory_id:
        return False
    if review.reviewer_mode == ReviewerMode.SELF:
        stmt = select(AccessReviewItem.id).where(
            AccessReviewItem.review_id == review.id, AccessReviewItem.principal_id == user_id
        )
    else:
        stmt = select(AccessReviewReviewer.id).where(
            AccessReviewReviewer.review_id == review.id, AccessReviewReviewer.user_id == user_id
        )
    return ctx.session.execute(stmt.limit(1)).first() is not None


def may_decide(ctx: Ctx, review: AccessReview, item: AccessReviewItem) -> bool:
    if not is_reviewer(ctx, review):
        return False
    if review.reviewer_mode == ReviewerMode.SELF:
        return item.principal_id == ctx.actor.user_id
    return True


def require_review_reader(ctx: Ctx, review: AccessReview) -> None:
    if can_read_all(ctx, review.directory_id) or is_reviewer(ctx, review):
        return
    raise Forbidden(
        "Only PIM's readers and this review's reviewers can see it.", code="not_a_reviewer"
    )


def _load_item(ctx: Ctx, item_id: uuid.UUID) -> AccessReviewItem:
    item = ctx.session.get(AccessReviewItem, item_id)
    if item is None:
        raise NotFound("No such review item.", code="review_item_not_found")
    return item


def decide(
    ctx: Ctx,
    item_id: uuid.UUID,
    decision: str,
    reason: str | None = None,
    *,
    expected_version: int | None = None,
) -> AccessReviewItem:
    """Record a reviewer's Approve, Deny or DontKnow on one member."""
    item = _load_item(ctx, item_id)
    review = load_review(ctx, item.review_id)
    if not may_decide(ctx, review, item):
        raise Forbidden("You are not a reviewer of this member.", code="not_a_reviewer")
    if review.status != ReviewStatus.IN_PROGRESS or ctx.now >= review.end_at:
        raise Conflict(
            "Decisions can only be made while the review is in progress.",
            code="review_not_in_progress",
        )
    try:
        chosen = Decision(decision)
    except ValueError:
        chosen = Decision.NOT_REVIEWED
    if chosen == Decision.NOT_REVIEWED:
        raise ValidationFailed(
            "decision must be Approve, Deny or DontKnow.", code="invalid_decision", field="decision"
        )
    text = clean_text(reason, "reason", REASON_MAX)
    if chosen == Decision.APPROVE and review.require_reason_on_approval and not text:
        raise ValidationFailed(
            "This review requires a reason for every approval.",
            code="reason_required",
            field="reason",
        )
    guard = (
        AccessReviewItem.version == expected_version
        if expected_version is not None
        else AccessReviewItem.decision == Decision.NOT_REVIEWED
    )
    result = ctx.session.execute(
        update(AccessReviewItem)
        .where(AccessReviewItem.id == item.id, guard)
        .values(
            decision=chosen,
            decision_reason=text or None,
            decided_by_id=ctx.actor.user_id,
            decided_by_label=ctx.actor.label,
            decided_at=ctx.now,
            version=AccessReviewItem.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    ctx.session.refresh(item)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"{item.principal_label} was already decided ({item.decision}) by "
            f"{item.decided_by_label}; reload and send version={item.version} to change it.",
            code="decision_conflict",
            extra={"version": item.version, "decision": item.decision},
        )
    record(
        ctx,
        AuditEntry(
            action="review.decided",
            directory_id=review.directory_id,
            target_user_id=item.principal_id,
            target_label=item.principal_label,
            role_id=review.role_id,
            role_label=role_label(ctx, review.role_id),
            schedule_id=item.schedule_id,
            justification=text or None,
            detail={
                "review_id": str(review.id),
                "item_id": str(item.id),
                "decision": chosen.value,
                "member_type": item.member_type,
            },
        ),
    )
    return item


def reset_decisions(ctx: Ctx, review_id: uuid.UUID) -> int:
    """Clear every decision of a review in progress (reviewers start over)."""
    review = load_review(ctx, review_id)
    require_manage(ctx, review.directory_id)
    if review.status != ReviewStatus.IN_PROGRESS:
        raise Conflict("Only a review in progress can be reset.", code="review_not_in_progress")
    result = ctx.session.execute(
        update(AccessReviewItem)
        .where(
            AccessReviewItem.review_id == review.id,
            AccessReviewItem.decision != Decision.NOT_REVIEWED,
        )
        .values(
            decision=Decision.NOT_REVIEWED,
            decision_reason=None,
            decided_by_id=None,
            decided_by_label=None,
            decided_at=None,
            version=AccessReviewItem.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    cleared = int(result.rowcount)  # type: ignore[attr-defined]
    audit_review(ctx, "review.reset", review, decisions_cleared=cleared)
    return cleared


def remind(ctx: Ctx, review_id: uuid.UUID) -> int:
    """Queue a reminder to every reviewer who still has members to decide; returns how many."""
    review = load_review(ctx, review_id)
    require_manage(ctx, review.directory_id)
    if review.status != ReviewStatus.IN_PROGRESS:
        raise Conflict(
            "Only a review in progress has reviewers to remind.", code="review_not_in_progress"
        )
    pending = (
        select(func.count())
        .where(
            AccessReviewItem.review_id == review.id,
            AccessReviewItem.decision == Decision.NOT_REVIEWED,
        )
        .scalar_subquery()
    )
    if review.reviewer_mode == ReviewerMode.SELF:
        recipients = list(
            ctx.session.scalars(
                select(AccessReviewItem.principal_id)
                .where(
                    AccessReviewItem.review_id == review.id,
                    AccessReviewItem.decision == Decision.NOT_REVIEWED,
                )
                .distinct()
            )
        )
    else:
        recipients = list(
            ctx.session.scalars(
                select(AccessReviewReviewer.user_id).where(
                    AccessReviewReviewer.review_id == review.id, pending > 0
                )
            )
        )
    review.reminded_at = ctx.now
    if recipients:
        enqueue(
            ctx,
            "review.reminder",
            {
                "review_id": review.id,
                "name": review.name,
                "end_at": review.end_at.isoformat(),
                "recipient_ids": [str(r) for r in recipients],
            },
            directory_id=review.directory_id,
        )
    audit_review(ctx, "review.reminded", review, recipients=len(recipients))
    return len(recipients)
