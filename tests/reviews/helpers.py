"""Set-ups for access review tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from openpim.directory.models import Directory, User
from openpim.reviews import service as reviews
from openpim.reviews.models import AccessReview, AccessReviewItem
from openpim.reviews.rules import ReviewSpec
from tests.factories import USER_ADMIN, Env


def create(
    env: Env,
    directory: Directory,
    *,
    reviewers: list[User] | None = None,
    role_ids: list[uuid.UUID] | None = None,
    **options: Any,
) -> AccessReview:
    spec_args: dict[str, Any] = {
        "name": "Quarterly User Administrator review",
        "role_ids": role_ids or [USER_ADMIN],
        "reviewer_mode": "selected" if reviewers else "self",
        "reviewer_ids": [r.id for r in reviewers or []],
        "duration": timedelta(days=7),
        **options,
    }
    if "end_at" in options:
        spec_args.pop("duration")
    with env.ctx() as ctx:
        (review,) = reviews.create_reviews(ctx, directory.id, ReviewSpec(**spec_args))
        return review


def items(env: Env, review_id: uuid.UUID) -> dict[str, AccessReviewItem]:
    """Items by "<upn local part>:<member type>"."""
    with env.runtime.db.reader() as s:
        rows = list(
            s.scalars(select(AccessReviewItem).where(AccessReviewItem.review_id == review_id))
        )
        s.expunge_all()
    return {f"{i.principal_label.split('@')[0]}:{i.member_type}": i for i in rows}


def review_row(env: Env, review_id: uuid.UUID) -> AccessReview:
    with env.runtime.db.reader() as s:
        row = s.get(AccessReview, review_id)
        assert row is not None
        s.expunge_all()
    return row
