"""Applying a completed review: each denied member is removed through the admin-removal path.

The removal is assignments.service.admin_remove, called as the review (the audit and the
request name "access review <name> (<id>)" and who applied it), so it passes the same rules as
any removal: the last Global Administrator or PRA is never removed. A refused removal is recorded
on its item ("failed", with the reason) and the others go ahead; each removal runs in a
savepoint so a refusal leaves nothing half-written.

Idempotent: the review row is locked, and only items not yet applied are processed, so applying
twice (or the worker's auto-apply racing an administrator) removes nothing twice. A member
already gone when the review is applied is recorded as "already_gone".
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update

from openpim.assignments import service as assignments
from openpim.assignments.models import Assignment, Eligibility, MemberType
from openpim.assignments.queries import current_or_future
from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import Conflict, DomainError
from openpim.reviews.common import audit_review, load_review, role_label
from openpim.reviews.models import AccessReview, AccessReviewItem
from openpim.reviews.rules import Outcome, ReviewStatus

LABEL_MAX = 320


@dataclass(frozen=True)
class ApplySummary:
    review_id: uuid.UUID
    removed: int
    already_gone: int
    failed: int
    kept: int
    # True when this call found nothing left to apply (the review was applied before).
    already_applied: bool


def review_actor(ctx: Ctx, review: AccessReview) -> Actor:
    """The review as the actor of its removals, keeping who applied it accountable."""
    label = f"access review {review.name[:80]!r} ({review.id}) applied by {ctx.actor.label}"
    return dataclasses.replace(ctx.actor, label=label[:LABEL_MAX])


def _remove(ctx: Ctx, review: AccessReview, item: AccessReviewItem) -> tuple[str, str | None]:
    member_type = MemberType(item.member_type)
    model: type[Eligibility] | type[Assignment] = (
        Eligibility if member_type == MemberType.ELIGIBLE else Assignment
    )
    if not current_or_future(ctx.session, model, item.principal_id, review.role_id, ctx.now):  # type: ignore[type-var]
        return "already_gone", None
    acting = dataclasses.replace(ctx, actor=review_actor(ctx, review))
    reason = item.decision_reason or "no reason given"
    why = f"Denied in access review {review.name[:80]!r}: {reason}"[:500]
    try:
        with ctx.session.begin_nested():
            request = assignments.admin_remove(
                acting,
                directory_id=review.directory_id,
                principal_id=item.principal_id,
                role_id=review.role_id,
                member_type=member_type,
                justification=why,
            )
    except DomainError as refused:
        return "failed", f"{refused.code}: {refused.message}"
    item.applied_request_id = request.id
    record(
        ctx,
        AuditEntry(
            action="review.member_removed",
            directory_id=review.directory_id,
            target_user_id=item.principal_id,
            target_label=item.principal_label,
            role_id=review.role_id,
            role_label=role_label(ctx, review.role_id),
            request_id=request.id,
            schedule_id=item.schedule_id,
            justification=why,
            detail={
                "review_id": str(review.id),
                "item_id": str(item.id),
                "member_type": item.member_type,
            },
        ),
    )
    return "removed", None


def apply_outcomes(ctx: Ctx, review: AccessReview) -> ApplySummary:
    """Remove the denied members of a completed review (the caller has authorised)."""
    review = load_review(ctx, review.id, lock=True)
    if review.status not in (ReviewStatus.COMPLETED, ReviewStatus.APPLIED):
        raise Conflict(
            "Nothing changes until the review completes; complete or stop it first.",
            code="review_not_completed",
        )
    denied = list(
        ctx.session.scalars(
            select(AccessReviewItem)
            .where(
                AccessReviewItem.review_id == review.id,
                AccessReviewItem.outcome == Outcome.DENY,
                AccessReviewItem.applied_at.is_(None),
            )
            .order_by(AccessReviewItem.principal_label, AccessReviewItem.member_type)
        )
    )
    tally = {"removed": 0, "already_gone": 0, "failed": 0}
    for item in denied:
        result, detail = _remove(ctx, review, item)
        item.applied_result, item.applied_detail, item.applied_at = result, detail, ctx.now
        tally[result] += 1
    kept = ctx.session.execute(
        update(AccessReviewItem)
        .where(
            AccessReviewItem.review_id == review.id,
            AccessReviewItem.outcome != Outcome.DENY,
            AccessReviewItem.applied_at.is_(None),
        )
        .values(applied_result="kept", applied_at=ctx.now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    first_time = review.status == ReviewStatus.COMPLETED
    if first_time:
        review.status = ReviewStatus.APPLIED
        review.applied_at = ctx.now
    if first_time or denied:
        audit_review(ctx, "review.applied", review, **tally, kept=int(kept))
    return ApplySummary(
        review.id, tally["removed"], tally["already_gone"], tally["failed"], int(kept),
        already_applied=not first_time and not denied,
    )  # fmt: skip


def apply_review(ctx: Ctx, review_id: uuid.UUID) -> ApplySummary:
    """An administrator applies a completed review. Applying again removes nothing twice."""
    review = load_review(ctx, review_id)
    require_manage(ctx, review.directory_id)
    return apply_outcomes(ctx, review)


def applied_counts(ctx: Ctx, review_id: uuid.UUID) -> dict[str, int]:
    rows = ctx.session.execute(
        select(AccessReviewItem.applied_result, func.count())
        .where(AccessReviewItem.review_id == review_id)
        .group_by(AccessReviewItem.applied_result)
    ).all()
    return {str(result): int(n) for result, n in rows if result is not None}
