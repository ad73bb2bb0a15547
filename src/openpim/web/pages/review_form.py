"""The new-review form (an active PRA): one review per selected role, as the service makes them.

Registered before reviews.py (page modules are included in name order), so /reviews/new is not
taken for /reviews/{review_id}.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response

from openpim.auth.permissions import require_manage
from openpim.kit.errors import DomainError, ValidationFailed
from openpim.reviews import service as reviews
from openpim.reviews.rules import (
    MAX_REVIEWERS,
    DefaultDecision,
    Recurrence,
    ReviewerMode,
    ReviewSpec,
    Scope,
)
from openpim.roles.service import list_roles
from openpim.web import forms
from openpim.web.pages.reviews import LABELS
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# Type-ahead inputs on the form; more reviewers go in the text box below them.
REVIEWER_INPUTS = 3
# Which form control a service refusal points at.
FIELD_OF = {"role_ids": "roles", "reviewer_ids": "reviewers", "end_at": "ends", "duration": "ends"}


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
