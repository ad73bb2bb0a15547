"""Access reviews: the list and a review's page (PIM's readers; only an active PRA changes), the
new-review form, and "Review access" where reviewers decide their members.

Every rule is the service's (openpim.reviews.service): who may see, create, decide, complete
and apply. These pages turn forms into its calls and show its refusals on the form.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response

from openpim.api.download import attachment
from openpim.auth.permissions import require_manage
from openpim.directory import service as directory_service
from openpim.kit.context import Ctx
from openpim.kit.errors import DomainError, ValidationFailed
from openpim.reviews import service as reviews
from openpim.reviews.models import AccessReviewItem
from openpim.reviews.rules import (
    MAX_REVIEWERS,
    DefaultDecision,
    Recurrence,
    ReviewerMode,
    ReviewSpec,
    ReviewStatus,
    Scope,
)
from openpim.roles.service import list_roles
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, is_htmx, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

REVIEWS_SHOWN = 200
ITEMS_PAGE = 100
# Type-ahead inputs on the form; more reviewers go in the text box below them.
REVIEWER_INPUTS = 3

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
# Which form control a service refusal points at.
FIELD_OF = {"role_ids": "roles", "reviewer_ids": "reviewers", "end_at": "ends", "duration": "ends"}


def _message(msg: str, n: int | None) -> str | None:
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
        if message := _message(msg, n):
            context["message"] = message
        return render(portal.request, "reviews.html", context)


# --- creating -----------------------------------------------------------------------------------


def _new_form(
    portal: Portal,
    form: dict[str, Any] | None = None,
    *,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
) -> Response:
    with portal.read() as (ctx, viewer):
        require_manage(ctx, viewer.directory_id)
        roles = list_roles(ctx, viewer.directory_id)
        defaults: dict[str, Any] = {
            "name": "",
            "description": "",
            "roles": [],
            "start_at": "",
            "ends": "after",
            "duration_days": "14",
            "end_at": "",
            "reviewer_mode": ReviewerMode.SELECTED.value,
            "reviewers": [],
            "more_reviewers": "",
            "scope": Scope.BOTH.value,
            "require_reason_on_approval": True,
            "show_recommendations": True,
            "default_decision": DefaultDecision.NO_CHANGE.value,
            "auto_apply": False,
            "recurrence": Recurrence.NONE.value,
        }
        values = {**defaults, **(form or {})}
        reviewers = list(values["reviewers"])[:REVIEWER_INPUTS]
        values["reviewers"] = reviewers + [""] * (REVIEWER_INPUTS - len(reviewers))
        return render(
            portal.request,
            "review_new.html",
            {
                "form": values,
                "privileged": [r for r in roles if r.is_privileged],
                "other_roles": [r for r in roles if not r.is_privileged],
                "labels": LABELS,
                "error": error,
                "error_field": FIELD_OF.get(error_field or "", error_field),
                "max_reviewers": MAX_REVIEWERS,
            },
            status_code=status,
        )


@router.get("/reviews/new")
def new_review(portal: PortalDep) -> Response:
    return _new_form(portal)


def _lines(value: str) -> list[str]:
    text = forms.text(value) or ""
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _duration(days: str) -> timedelta:
    try:
        value = int(days.strip())
    except ValueError:
        raise ValidationFailed(
            "Enter the review's length in whole days, e.g. 14.",
            code="invalid_duration",
            field="duration",
        ) from None
    if not 0 < value < 100_000:
        raise ValidationFailed(
            "A review lasts from 1 to 365 days.", code="invalid_duration", field="duration"
        )
    return timedelta(days=value)


def _role_ids(values: list[str]) -> list[uuid.UUID]:
    out = []
    for value in values:
        role_id = forms.parse_id(value, "role_ids")
        if role_id is not None:
            out.append(role_id)
    return out


FormText = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=40)]
Checkbox = Annotated[str, Form(max_length=8)]


@router.post("/reviews")
def create_review(
    portal: PortalDep,
    _csrf: CsrfProtected,
    name: Annotated[str, Form(max_length=400)] = "",
    description: FormText = "",
    role: Annotated[list[str], Form(max_length=100)] = [],  # noqa: B006 (FastAPI form default)
    start_at: Short = "",
    start_at_offset: Short = "",
    ends: Annotated[str, Form(pattern="^(after|on)$")] = "after",
    duration_days: Short = "",
    end_at: Short = "",
    end_at_offset: Short = "",
    reviewer_mode: Short = ReviewerMode.SELECTED.value,
    user: Annotated[list[str], Form(max_length=400)] = [],  # noqa: B006
    more_reviewers: Annotated[str, Form(max_length=40_000)] = "",
    scope: Short = Scope.BOTH.value,
    require_reason_on_approval: Checkbox = "",
    show_recommendations: Checkbox = "",
    default_decision: Short = DefaultDecision.NO_CHANGE.value,
    auto_apply: Checkbox = "",
    recurrence: Short = Recurrence.NONE.value,
) -> Response:
    form: dict[str, Any] = {
        "name": name,
        "description": description,
        "roles": role,
        "start_at": start_at,
        "ends": ends,
        "duration_days": duration_days,
        "end_at": end_at,
        "reviewer_mode": reviewer_mode,
        "reviewers": [u for u in user if u.strip()],
        "more_reviewers": more_reviewers,
        "scope": scope,
        "require_reason_on_approval": bool(require_reason_on_approval),
        "show_recommendations": bool(show_recommendations),
        "default_decision": default_decision,
        "auto_apply": bool(auto_apply),
        "recurrence": recurrence,
    }
    try:
        start = forms.local_datetime(start_at, start_at_offset, "start_at")
        end = forms.local_datetime(end_at, end_at_offset, "end_at") if ends == "on" else None
        if ends == "on" and end is None:
            raise ValidationFailed(
                "Enter the review's end date.", code="end_or_duration", field="end_at"
            )
        duration = _duration(duration_days) if ends == "after" else None
        with portal.unit() as (ctx, viewer):
            # The service checks this too; first here, so nobody else learns which names exist.
            require_manage(ctx, viewer.directory_id)
            reviewer_ids: list[uuid.UUID] = []
            # The reviewer boxes only count for "selected users", as the form says.
            if reviewer_mode == ReviewerMode.SELECTED:
                names = dict.fromkeys(
                    n.lower() for n in [*form["reviewers"], *_lines(more_reviewers)]
                )
                if len(names) > MAX_REVIEWERS:  # before looking each one up
                    raise ValidationFailed(
                        f"Name 1 to {MAX_REVIEWERS} reviewers, or let members review themselves.",
                        code="invalid_reviewers",
                        field="reviewer_ids",
                    )
                for reviewer in names:
                    found = forms.named_user(ctx, viewer.directory_id, reviewer, "reviewer_ids")
                    reviewer_ids.append(found.id)
            spec = ReviewSpec(
                name=forms.text(name) or "",
                description=forms.text(description) or "",
                role_ids=_role_ids(role),
                reviewer_mode=reviewer_mode,
                reviewer_ids=reviewer_ids,
                start_at=start,
                end_at=end,
                duration=duration,
                scope=scope,
                require_reason_on_approval=form["require_reason_on_approval"],
                show_recommendations=form["show_recommendations"],
                default_decision=default_decision,
                auto_apply=form["auto_apply"],
                recurrence=recurrence,
            )
            made = [r.id for r in reviews.create_reviews(ctx, viewer.directory_id, spec)]
    except DomainError as exc:
        return _new_form(portal, form, error=exc.message, error_field=exc.field, status=exc.status)
    if len(made) == 1:
        return redirect(portal.request, f"/reviews/{made[0]}?msg=created")
    return redirect(portal.request, f"/reviews?msg=created_many&n={len(made)}")


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
    return _review_page(portal, review_id, offset=offset, message=_message(msg, n))


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


# --- reviewing ----------------------------------------------------------------------------------


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
    return _decide_page(portal, review_id, view=view, offset=offset, message=_message(msg, None))


@router.post("/my-reviews/{review_id}/items/{item_id}")
def decide(
    portal: PortalDep,
    _csrf: CsrfProtected,
    review_id: uuid.UUID,
    item_id: uuid.UUID,
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    expected_version: Annotated[int | None, Form(ge=0)] = None,
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
