"""Access reviews: the list and a review's page with its administrator actions (PIM's readers
see; only an active PRA changes). The new-review form is review_form.py; the reviewers' pages
("Review access") are my_reviews.py; the labels and messages below serve all three.

Every rule is the service's (openpim.reviews.service): who may see, create, decide, complete
and apply. These pages turn forms into its calls and show its refusals on the page.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from openpim.api.download import attachment
from openpim.directory import service as directory_service
from openpim.kit.context import Ctx
from openpim.kit.errors import DomainError
from openpim.reviews import service as reviews
from openpim.reviews.rules import DefaultDecision, Recurrence, ReviewStatus, Scope
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

REVIEWS_SHOWN = 200
ITEMS_PAGE = 100

# Messages after a redirect (?msg=key, counts as ?n=): a fixed list, so a link cannot inject text.
MESSAGES = {
    "created": "The access review is created.",
    "created_many": "{n} access reviews are created, one per role.",
    "reminded": "A reminder is queued for {n} reviewer(s) who still have members to decide.",
    "reset": "{n} decision(s) cleared: reviewers start over.",
    "stopped": "The review is stopped: its outcomes are fixed.",
    "completed": "The review is completed: its outcomes are fixed.",
    "applied": "The review is applied: {n} member(s) removed.",
    "deleted": "The access review is deleted. The audit history keeps its record.",
    "decided": "Your decision is saved.",
}
STATUS_LABELS = {
    ReviewStatus.NOT_STARTED: "Not started",
    ReviewStatus.IN_PROGRESS: "In progress",
    ReviewStatus.COMPLETED: "Completed",
    ReviewStatus.APPLIED: "Applied",
}
DECISION_LABELS = {
    "NotReviewed": "Not reviewed",
    "Approve": "Approved",
    "Deny": "Denied",
    "DontKnow": "Don't know",
}
OUTCOME_LABELS = {"Approve": "Keep", "Deny": "Remove", "NoChange": "No change"}
APPLIED_LABELS = {
    "removed": "Removed",
    "already_gone": "Already gone",
    "failed": "Removal refused",
    "kept": "Kept",
}
SCOPE_LABELS = {
    Scope.ELIGIBLE: "Eligible members",
    Scope.ACTIVE: "Active (assigned) members",
    Scope.BOTH: "Eligible and active members",
}
DEFAULT_LABELS = {
    DefaultDecision.NO_CHANGE: "No change",
    DefaultDecision.REMOVE: "Remove their access",
    DefaultDecision.APPROVE: "Approve their access",
    DefaultDecision.RECOMMENDATION: "Take the recommendations",
}
RECURRENCE_LABELS = {
    Recurrence.NONE: "One time",
    Recurrence.WEEKLY: "Weekly",
    Recurrence.MONTHLY: "Monthly",
    Recurrence.QUARTERLY: "Quarterly",
    Recurrence.SEMIANNUALLY: "Semi-annually",
    Recurrence.ANNUALLY: "Annually",
}
LABELS: dict[str, Any] = {
    "status": STATUS_LABELS,
    "decision": DECISION_LABELS,
    "outcome": OUTCOME_LABELS,
    "applied": APPLIED_LABELS,
    "scope": SCOPE_LABELS,
    "default": DEFAULT_LABELS,
    "recurrence": RECURRENCE_LABELS,
}


def message_for(msg: str, n: int | None) -> str | None:
    template = MESSAGES.get(msg)
    if template is None:
        return None
    return template.format(n=n if n is not None else 0)


Msg = Annotated[str, Query(max_length=20)]
Count = Annotated[int | None, Query(ge=0, le=10_000_000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
StatusFilter = Annotated[str, Query(pattern="^(all|NotStarted|InProgress|Completed|Applied)$")]

# --- the list -----------------------------------------------------------------------------------


@router.get("/reviews")
def reviews_list(
    portal: PortalDep,
    status: StatusFilter = "all",
    msg: Msg = "",
    n: Count = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        rows = reviews.list_reviews(
            ctx,
            viewer.directory_id,
            status=None if status == "all" else status,
            limit=REVIEWS_SHOWN,
        )
        context: dict[str, Any] = {
            "rows": rows,
            "status": status,
            "labels": LABELS,
            "limit": REVIEWS_SHOWN,
        }
        if message := message_for(msg, n):
            context["message"] = message
        return render(portal.request, "reviews.html", context)


# --- one review ---------------------------------------------------------------------------------


def _reviewer_names(ctx: Ctx, directory_id: uuid.UUID, ids: list[uuid.UUID]) -> list[str]:
    names = []
    for user_id in ids:
        try:
            names.append(directory_service.get_user(ctx, directory_id, user_id).user_principal_name)
        except DomainError:
            names.append(str(user_id))
    return sorted(names)


def _review_page(
    portal: Portal,
    review_id: uuid.UUID,
    *,
    offset: int = 0,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with portal.read() as (ctx, viewer):
        progress = reviews.get_review(ctx, review_id)
        items, show = reviews.list_items(ctx, review_id, limit=ITEMS_PAGE + 1, offset=offset)
        names: list[str] = []
        if viewer.can_read_all:
            names = _reviewer_names(ctx, viewer.directory_id, progress.reviewer_ids)
        context: dict[str, Any] = {
            "p": progress,
            "r": progress.review,
            "members": items[:ITEMS_PAGE],
            "more": len(items) > ITEMS_PAGE,
            "offset": offset,
            "page": ITEMS_PAGE,
            "show": show,
            "reviewer_names": names,
            "labels": LABELS,
            "ended": ctx.now >= progress.review.end_at,
            "error": error,
        }
        if message:
            context["message"] = message
        return render(portal.request, "review.html", context, status_code=status)


@router.get("/reviews/{review_id}")
def review_page(
    portal: PortalDep, review_id: uuid.UUID, offset: Offset = 0, msg: Msg = "", n: Count = None
) -> Response:
    return _review_page(portal, review_id, offset=offset, message=message_for(msg, n))


@router.get("/reviews/{review_id}/results.csv")
def review_csv(portal: PortalDep, review_id: uuid.UUID) -> Response:
    with portal.read() as (ctx, _viewer):
        target, role = reviews.export_statement(ctx, review_id)
    return attachment(
        reviews.export_csv(portal.runtime.db.engine, target, role),
        f"access-review-{review_id}.csv",
    )


def _admin_action(portal: Portal, review_id: uuid.UUID, action: str) -> Response:
    """Run one administrator action; a refusal is shown on the review's page."""
    count: int | None = None
    try:
        with portal.unit() as (ctx, _viewer):
            if action == "remind":
                count = reviews.remind(ctx, review_id)
            elif action == "reset":
                count = reviews.reset_decisions(ctx, review_id)
            elif action == "stop":
                reviews.stop_review(ctx, review_id)
            elif action == "complete":
                reviews.complete_review(ctx, review_id)
            elif action == "apply":
                count = reviews.apply_review(ctx, review_id).removed
            else:
                reviews.delete_review(ctx, review_id)
    except DomainError as exc:
        if action == "delete" or exc.status == 404:
            raise
        return _review_page(portal, review_id, error=exc.message, status=exc.status)
    key = {"remind": "reminded", "reset": "reset", "stop": "stopped", "complete": "completed",
           "apply": "applied", "delete": "deleted"}[action]  # fmt: skip
    suffix = f"?msg={key}" + (f"&n={count}" if count is not None else "")
    if action == "delete":
        return redirect(portal.request, "/reviews" + suffix)
    return redirect(portal.request, f"/reviews/{review_id}{suffix}")


@router.post("/reviews/{review_id}/remind")
def remind(portal: PortalDep, _csrf: CsrfProtected, review_id: uuid.UUID) -> Response:
    return _admin_action(portal, review_id, "remind")


@router.post("/reviews/{review_id}/reset")
def reset(portal: PortalDep, _csrf: CsrfProtected, review_id: uuid.UUID) -> Response:
    return _admin_action(portal, review_id, "reset")


@router.post("/reviews/{review_id}/stop")
def stop(portal: PortalDep, _csrf: CsrfProtected, review_id: uuid.UUID) -> Response:
    return _admin_action(portal, review_id, "stop")


@router.post("/reviews/{review_id}/complete")
def complete(portal: PortalDep, _csrf: CsrfProtected, review_id: uuid.UUID) -> Response:
    return _admin_action(portal, review_id, "complete")


@router.post("/reviews/{review_id}/apply")
def apply(portal: PortalDep, _csrf: CsrfProtected, review_id: uuid.UUID) -> Response:
    return _admin_action(portal, review_id, "apply")


@router.post("/reviews/{review_id}/delete")
def delete(portal: PortalDep, _csrf: CsrfProtected, review_id: uuid.UUID) -> Response:
    return _admin_action(portal, review_id, "delete")
