"""Users in admin roles: who holds what, eligible or active, across roles."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response

from openpim.assignments import service as membership
from openpim.assignments.models import MemberType
from openpim.assignments.service import MemberPage
from openpim.directory import service as directory_service
from openpim.roles import ids
from openpim.roles.service import list_roles
from openpim.web import forms
from openpim.web.pages.roles import how_label
from openpim.web.portal import PortalDep
from openpim.web.routing import WebRoute
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = 100


@router.get("/admin-roles")
def admin_roles(
    portal: PortalDep,
    role: Annotated[str, Query(max_length=64)] = "",
    user: Annotated[str, Query(max_length=320)] = "",
    kind: Annotated[str, Query(pattern="^(all|eligible|active)$")] = "all",
    cursor: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    with portal.read() as (ctx, viewer):
        user_name = forms.text(user)
        # Opens on the Global Administrators: across every role a large directory has hundreds
        # of thousands of memberships, which no one reads unfiltered ("all" is one click away).
        if role == "" and user_name is None:
            role = str(ids.GLOBAL_ADMINISTRATOR)
        role_id = None if role == "all" else forms.parse_id(role, "role")
        user_id = None
        missing_user = False
        if user_name is not None:
            found = directory_service.find_user_by_upn(ctx, viewer.directory_id, user_name)
            missing_user = found is None
            user_id = found.id if found else None
        member_type = {"eligible": MemberType.ELIGIBLE, "active": MemberType.ACTIVE}.get(kind)
        page = MemberPage([], None)
        if not missing_user:
            page = membership.member_page(
                ctx,
                viewer.directory_id,
                role_id=role_id,
                user_id=user_id,
                member_type=member_type,
                cursor=forms.text(cursor),
                limit=PAGE,
            )
        roles = list_roles(ctx, viewer.directory_id)
        query = {"role": role, "user": user_name or "", "kind": kind}
        return render(
            portal.request,
            "admin_roles.html",
            {
                "rows": page.items,
                "roles": roles,
                "filters": {"role": role_id, "user": user_name or "", "kind": kind},
                "missing_user": missing_user,
                "first_href": "/admin-roles?" + urlencode(query) if cursor else None,
                "next_href": (
                    "/admin-roles?" + urlencode({**query, "cursor": page.next_cursor})
                    if page.next_cursor
                    else None
                ),
                "how": how_label,
            },
        )
