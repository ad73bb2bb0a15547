"""Review access: the reviews waiting for me, and deciding Approve, Deny or Don't know per member.

The service decides who may decide which member (selected reviewers, or each member in a
self-review) and refuses a decision someone else made first; the page explains that refusal.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response

from openpim.kit.errors import DomainError
from openpim.reviews import service as reviews
from openpim.reviews.models import AccessReviewItem
from openpim.reviews.rules import ReviewerMode, ReviewStatus
from openpim.web import forms
from openpim.web.pages.reviews import (
    DECISION_LABELS,
    ITEMS_PAGE,
    LABELS,
    MESSAGES,
    Msg,
    Offset,
    message_for,
)
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, is_htmx, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/my-reviews")
def my_reviews(portal: PortalDep) -> Response:
    with portal.read() as (ctx, _viewer):
        rows = reviews.my_reviews(ctx)
        return render(portal.request, "reviews_mine.html", {"rows": rows, "labels": LABELS})


def _conflict_message(items: list[AccessReviewItem], item_id: uuid.UUID) -> str:
    decided = next((i for i in items if i.id == item_id), None)
    if decided is None:
        return "Another reviewer decided this member first. Your decision was not saved."
    return (
        f"{decided.decided_by_label} decided {decided.principal_label} first "
        f"({DECISION_LABELS.get(decided.decision, decided.decision)}). Your decision was not "
        "saved; the member now shows that decision, which you can change."
    )


def _decide_page(
    portal: Portal,
    review_id: uuid.UUID,
    *,
    view: str = "pending",
    offset: int = 0,
    message: str | None = None,
    error: str | None = None,
    conflict_item: uuid.UUID | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        progress = reviews.get_review(ctx, review_id)
        review = progress.review
        if conflict_item is not None:
            view, offset = "all", 0
        items, show = reviews.list_items(
            ctx, review_id, pending_only=view == "pending", limit=ITEMS_PAGE + 1, offset=offset
        )
        if conflict_item is not None:
            error = _conflict_message(items, conflict_item)
        # What the service will accept, so the page offers only that (it checks again).
        reviewer = reviews.is_reviewer(ctx, review)
        open_ = review.status == ReviewStatus.IN_PROGRESS and ctx.now < review.end_at
        self_review = review.reviewer_mode == ReviewerMode.SELF
        context: dict[str, Any] = {
            "p": progress,
            "r": review,
            "members": items[:ITEMS_PAGE],
            "more": len(items) > ITEMS_PAGE,
            "offset": offset,
            "page": ITEMS_PAGE,
            "view": view,
            "show": show,
            "may_decide": lambda i: (
                reviewer and open_ and (not self_review or i.principal_id == viewer.user_id)
            ),
            "is_reviewer": reviewer,
            "open": open_,
            "labels": LABELS,
            "error": error,
            "highlight": conflict_item,
        }
        if message:
            context["message"] = message
        return render(
            portal.request, "review_decide.html", context, status_code=status, headers=headers
        )


View = Annotated[str, Query(pattern="^(pending|all)$")]


@router.get("/my-reviews/{review_id}")
def decide_page(
    portal: PortalDep,
    review_id: uuid.UUID,
    view: View = "pending",
    offset: Offset = 0,
    msg: Msg = "",
) -> Response:
    return _decide_page(portal, review_id, view=view, offset=offset, message=message_for(msg, None))


@router.post("/my-reviews/{review_id}/items/{item_id}")
def decide(
    portal: PortalDep,
    _csrf: CsrfProtected,
    review_id: uuid.UUID,
    item_id: uuid.UUID,
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    expected_version: Annotated[int | None, Form(ge=0, le=2**63 - 1)] = None,
    view: Annotated[str, Form(pattern="^(pending|all)$")] = "pending",
) -> Response:
    try:
        with portal.unit() as (ctx, _viewer):
            reviews.decide(
                ctx, item_id, decision, forms.text(reason), expected_version=expected_version
            )
    except DomainError as exc:
        if exc.code == "decision_conflict":
            return _decide_page(portal, review_id, conflict_item=item_id, status=exc.status)
        return _decide_page(portal, review_id, view=view, error=exc.message, status=exc.status)
    back = f"/my-reviews/{review_id}" + ("?view=all" if view == "all" else "")
    if is_htmx(portal.request):
        return _decide_page(
            portal,
            review_id,
            view=view,
            message=MESSAGES["decided"],
            headers={"HX-Push-Url": back},
        )
    return redirect(portal.request, back + ("&" if "?" in back else "?") + "msg=decided")
