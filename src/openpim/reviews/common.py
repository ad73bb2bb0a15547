"""Lookups and the audit line every review operation shares."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from openpim.audit.writer import AuditEntry, record
from openpim.kit.context import Ctx
from openpim.kit.errors import NotFound
from openpim.reviews.models import AccessReview
from openpim.roles.models import RoleDefinition


def load_review(ctx: Ctx, review_id: uuid.UUID, *, lock: bool = False) -> AccessReview:
    stmt = select(AccessReview).where(AccessReview.id == review_id)
    if lock:
        stmt = stmt.with_for_update()
    review = ctx.session.execute(stmt).scalar_one_or_none()
    if review is None:
        raise NotFound("No such access review.", code="review_not_found")
    return review


def role_label(ctx: Ctx, role_id: uuid.UUID) -> str | None:
    role = ctx.session.get(RoleDefinition, role_id)
    return role.display_name if role else None


def audit_review(ctx: Ctx, action: str, review: AccessReview, **detail: Any) -> None:
    record(
        ctx,
        AuditEntry(
            action=action,
            directory_id=review.directory_id,
            role_id=review.role_id,
            role_label=role_label(ctx, review.role_id),
            start_at=review.start_at,
            end_at=review.end_at,
            detail={"review_id": str(review.id), "name": review.name, **detail},
        ),
    )
