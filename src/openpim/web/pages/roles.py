"""Role management: the role list, a role's members, adding, removing and converting members."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Response

from openpim.assignments import service as membership
from openpim.assignments.models import AssignmentType, MemberType
from openpim.directory import service as directory_service
from openpim.kit.errors import DomainError
from openpim.policies.service import get_role_settings
from openpim.roles.service import get_role
from openpim.summaries import service as summaries
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep, mfa_fresh, step_up
from openpim.web.routing import WebRoute, is_htmx, redirect
from openpim.web.security import CsrfProtected, set_session_cookie
from openpim.web.templating import MESSAGES, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# Members shown per section (eligible, active); each section pages on with its own cursor.
MEMBERS_SHOWN = 100
SEARCH_RESULTS = 10


@router.get("/roles")
def roles_list(
    portal: PortalDep,
    show: Annotated[str, Query(pattern="^(all|privileged|with-members)$")] = "privileged",
) -> Response:
    with portal.read() as (ctx, viewer):
        snapshot = summaries.role_counts(ctx, viewer.directory_id)
        roles = snapshot.roles
        if show == "privileged":
            roles = [r for r in roles if r.is_privileged]
        elif show == "with-members":
            roles = [r for r in roles if r.members]
        return render(
            portal.request,
            "roles.html",
            {"roles": roles, "show": show, "counted_at": snapshot.counted_at},
        )


def how_label(s: Any) -> str:
    if s.assignment_type == AssignmentType.ACTIVATED:
        return "activated by the member"
    if s.created_via == "pim":
        return "assigned in PIM"
    return f"assigned outside PIM ({s.created_via})"


def _role_page(
    portal: Portal,
    role_id: uuid.UUID,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
    message: str | None = None,
    headers: dict[str, str] | None = None,
    cursors: dict[str, str] | None = None,
) -> Response:
    cursors = cursors or {}
    with portal.read() as (ctx, viewer):
        role = get_role(ctx, viewer.directory_id, role_id)
        settings = get_role_settings(ctx, viewer.directory_id, role_id)
        sections = {}
        for key, kind in (("eligible", MemberType.ELIGIBLE), ("active", MemberType.ACTIVE)):
            page = membership.member_page(
                ctx,
                viewer.directory_id,
                role_id=role_id,
                member_type=kind,
                cursor=cursors.get(key),
                limit=MEMBERS_SHOWN,
            )
            others = {k: v for k, v in cursors.items() if k != key}
            sections[key] = {
                "rows": page.items,
                "paged": key in cursors,
                "first_href": _members_href(role_id, others, key) if key in cursors else None,
                "next_href": (
                    _members_href(role_id, {**others, key: page.next_cursor}, key)
                    if page.next_cursor
                    else None
                ),
            }
        context: dict[str, Any] = {
            "role": role,
            "settings": settings,
            "eligible": sections["eligible"],
            "active": sections["active"],
            "limit": MEMBERS_SHOWN,
            "how": how_label,
            "form": form or {},
            "error": error,
            "error_field": error_field,
            "mfa_fresh": mfa_fresh(ctx),
        }
        if message:
            context["message"] = message
        return render(portal.request, "role.html", context, status_code=status, headers=headers)


def _members_href(role_id: uuid.UUID, cursors: dict[str, str], section: str) -> str:
    query = urlencode(sorted(cursors.items()))
    return f"/roles/{role_id}" + (f"?{query}" if query else "") + f"#{section}-members"


@router.get("/roles/{role_id}")
def role_page(
    portal: PortalDep,
    role_id: uuid.UUID,
    eligible: Annotated[str, Query(max_length=100)] = "",
    active: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """A role's members: the first page of eligible and of active members, each paged on by
    its own cursor (`eligible`, `active`) so paging one keeps the other where it was."""
    given = (("eligible", forms.text(eligible)), ("active", forms.text(active)))
    cursors = {key: value for key, value in given if value}
    return _role_page(portal, role_id, cursors=cursors)


def _done(portal: Portal, role_id: uuid.UUID, key: str) -> Response:
    back = f"/roles/{role_id}"
    if is_htmx(portal.request):
        return _role_page(portal, role_id, message=MESSAGES[key], headers={"HX-Push-Url": back})
    return redirect(portal.request, f"{back}?msg={key}")


@router.get("/users/search")
def user_search(
    portal: PortalDep,
    q: Annotated[str, Query(max_length=320)] = "",
    user: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """Type-ahead for the add-member form: <option>s for its <datalist> (htmx sends the
    input's own name, `user`; `q` is for anyone else)."""
    with portal.read() as (ctx, viewer):
        term = forms.text(q or user)
        users = []
        if term is not None and len(term) >= 2:
            users = directory_service.list_users(
                ctx, viewer.directory_id, search=term, limit=SEARCH_RESULTS
            ).items
        return render(portal.request, "_user_options.html", {"users": users})


@router.post("/roles/{role_id}/members")
def add_member(
    portal: PortalDep,
    _csrf: CsrfProtected,
    role_id: uuid.UUID,
    user: Annotated[str, Form(max_length=320)],
    member_type: Annotated[MemberType, Form()] = MemberType.ELIGIBLE,
    end_at: Annotated[str, Form(max_length=40)] = "",
    end_at_offset: Annotated[str, Form(max_length=8)] = "",
    justification: Annotated[str, Form(max_length=600)] = "",
    totp_code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    form = {
        "user": user,
        "member_type": member_type.value,
        "end_at": end_at,
        "justification": justification,
    }
    new_cookie: str | None = None
    try:
        end = forms.local_datetime(end_at, end_at_offset, "end_at")
        code = forms.text(totp_code)
        if code is not None:
            portal, new_cookie, refusal = step_up(portal, code)
            if refusal is not None:
                raise refusal
        with portal.unit() as (ctx, viewer):
            name = forms.text(user) or ""
            found = forms.named_user(ctx, viewer.directory_id, name, "user")
            membership.admin_assign(
                ctx,
                directory_id=viewer.directory_id,
                principal_id=found.id,
                role_id=role_id,
                member_type=member_type,
                end_at=end,
                justification=forms.text(justification),
            )
    except DomainError as exc:
        response = _role_page(
            portal,
            role_id,
            form=form,
            error=exc.message,
            error_field=exc.field,
            status=exc.status,
        )
    else:
        response = _done(portal, role_id, "member_added")
    if new_cookie:
        set_session_cookie(portal.request, response, new_cookie)
    return response


MemberChange = Annotated[str, Form(pattern="^(remove|make_permanent|make_eligible)$")]


@router.post("/roles/{role_id}/members/{user_id}")
def change_member(
    portal: PortalDep,
    _csrf: CsrfProtected,
    role_id: uuid.UUID,
    user_id: uuid.UUID,
    change: MemberChange,
    member_type: Annotated[MemberType, Form()] = MemberType.ELIGIBLE,
) -> Response:
    """Remove, make permanent (eligible -> active) or make eligible (active -> eligible)."""
    try:
        with portal.unit() as (ctx, viewer):
            common: dict[str, Any] = {
                "directory_id": viewer.directory_id,
                "principal_id": user_id,
                "role_id": role_id,
            }
            if change == "remove":
                membership.admin_remove(ctx, member_type=member_type, **common)
                key = "member_removed"
            elif change == "make_permanent":
                membership.make_permanent(ctx, **common)
                key = "made_permanent"
            else:
                membership.make_eligible(ctx, **common)
                key = "made_eligible"
    except DomainError as exc:
        return _role_page(portal, role_id, error=exc.message, status=exc.status)
    return _done(portal, role_id, key)
