"""Starting a review: the members in scope are snapshotted, with recommendation evidence.

Recommendations follow Microsoft's rule: approve when the member signed in or activated the
role in the last 30 days, else deny; the evidence (last sign-in, last activation) is stored on
the item so reviewers and auditors see why.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, or_, select, update

from openpim.alerts.findings import of_type
from openpim.assignments.models import Assignment, AssignmentType, Eligibility, MemberType
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict
from openpim.notifications.outbox import enqueue
from openpim.reviews.common import audit_review, role_label
from openpim.reviews.models import AccessReview, AccessReviewItem, AccessReviewReviewer
from openpim.reviews.rules import RECENT_ACTIVITY, Decision, ReviewStatus, Scope


def _members(ctx: Ctx, review: AccessReview) -> dict[tuple[uuid.UUID, str], Any]:
    """Current members in scope, one per (user, membership type): the longest-lasting row."""
    now = ctx.now
    parts: list[tuple[type[Eligibility] | type[Assignment], str]] = []
    if review.scope in (Scope.ELIGIBLE, Scope.BOTH):
        parts.append((Eligibility, MemberType.ELIGIBLE))
    if review.scope in (Scope.ACTIVE, Scope.BOTH):
        parts.append((Assignment, MemberType.ACTIVE))
    chosen: dict[tuple[uuid.UUID, str], Any] = {}
    for model, member_type in parts:
        stmt = (
            select(
                model.id,
                model.principal_id,
                model.start_at,
                model.end_at,
                User.user_principal_name,
                User.last_sign_in_at,
            )
            .join(User, User.id == model.principal_id)
            .where(
                model.directory_id == review.directory_id,
                model.role_id == review.role_id,
                model.start_at <= now,
                or_(model.end_at.is_(None), model.end_at > now),
            )
        )
        if model is Assignment:
            stmt = stmt.where(of_type(AssignmentType.ASSIGNED))
        for row in ctx.session.execute(stmt):
            key = (row.principal_id, member_type)
            kept = chosen.get(key)
            if kept is None or (
                kept.end_at is not None and (row.end_at is None or row.end_at > kept.end_at)
            ):
                chosen[key] = row
    return chosen


def _last_activations(ctx: Ctx, review: AccessReview) -> dict[uuid.UUID, datetime]:
    rows = ctx.session.execute(
        select(Assignment.principal_id, func.max(Assignment.start_at))
        .where(
            Assignment.directory_id == review.directory_id,
            Assignment.role_id == review.role_id,
            of_type(AssignmentType.ACTIVATED),
            Assignment.start_at <= ctx.now,
        )
        .group_by(Assignment.principal_id)
    )
    return {principal: last for principal, last in rows}


def recommend(
    now: datetime, last_sign_in: datetime | None, last_activation: datetime | None
) -> tuple[str, str]:
    """Approve when the member signed in or activated in the last 30 days, else deny."""
    recent = now - RECENT_ACTIVITY

    def when(value: datetime | None) -> str:
        if value is None:
            return "never"
        return f"{value.date().isoformat()} ({(now - value).days} days ago)"

    if last_activation is not None and last_activation >= recent:
        return Decision.APPROVE, f"activated the role {when(last_activation)}"
    if last_sign_in is not None and last_sign_in >= recent:
        return Decision.APPROVE, f"signed in {when(last_sign_in)}"
    return (
        Decision.DENY,
        f"no sign-in or activation in the last 30 days (last sign-in {when(last_sign_in)}, "
        f"last activation {when(last_activation)})",
    )


def start_review(ctx: Ctx, review: AccessReview) -> int:
    """Snapshot the members in scope and open the review to its reviewers."""
    claimed = ctx.session.execute(
        update(AccessReview)
        .where(AccessReview.id == review.id, AccessReview.status == ReviewStatus.NOT_STARTED)
        .values(status=ReviewStatus.IN_PROGRESS, started_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This review has already started.", code="review_already_started")
    ctx.session.refresh(review)
    members = _members(ctx, review)
    activations = _last_activations(ctx, review) if members else {}
    rows = []
    for (principal_id, member_type), row in members.items():
        last_activation = activations.get(principal_id)
        recommendation, reason = recommend(ctx.now, row.last_sign_in_at, last_activation)
        rows.append(
            {
                "id": uuid.uuid4(),
                "review_id": review.id,
                "principal_id": principal_id,
                "principal_label": row.user_principal_name,
                "member_type": member_type,
                "schedule_id": row.id,
                "schedule_start_at": row.start_at,
                "schedule_end_at": row.end_at,
                "last_sign_in_at": row.last_sign_in_at,
                "last_activation_at": last_activation,
                "recommendation": recommendation,
                "recommendation_reason": reason[:300],
                "decision": Decision.NOT_REVIEWED,
                "version": 0,
            }
        )
    if rows:
        # Core executemany (psycopg pipelines it), not the ORM's bulk path, which splits the
        # rows into many small statements.
        ctx.session.execute(insert(cast(Table, AccessReviewItem.__table__)), rows)
    audit_review(ctx, "review.started", review, members=len(rows))
    reviewer_ids = list(
        ctx.session.scalars(
            select(AccessReviewReviewer.user_id).where(AccessReviewReviewer.review_id == review.id)
        )
    )
    enqueue(
        ctx,
        "review.started",
        {
            "review_id": review.id,
            "name": review.name,
            "role_id": review.role_id,
            "role": role_label(ctx, review.role_id),
            "end_at": review.end_at.isoformat(),
            "reviewer_mode": review.reviewer_mode,
            # Members review themselves: delivery reads the members from the review's items.
            "reviewer_ids": [str(r) for r in reviewer_ids],
            "members": len(rows),
        },
        directory_id=review.directory_id,
    )
    return len(rows)
