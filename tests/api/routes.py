"""The route table as tests see it, and a valid sample request for every route.

Tests parametrize over `ROUTES`, so a new route is covered by the 401/403 and garbage tests as
soon as it exists; a route that takes a body must have a sample here (a test says so).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from openpim.api.deps import ACCESS_KEY, API_PREFIX, SELF_OR_READER
from openpim.app import create_app
from openpim.config import Settings
from tests.api.helpers import PASSWORD

FUTURE = "2026-03-01T00:00:00Z"


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    level: str | None
    has_body: bool

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _infos(path: str, route: APIRoute, extra: dict[str, Any] | None) -> list[RouteInfo]:
    if route.endpoint.__module__.startswith("openpim.web."):
        return []  # the portal's HTML pages (cookie sessions, CSRF): tested in tests/web
    level = (extra or {}).get(ACCESS_KEY)
    return [
        RouteInfo(method, path, level, route.body_field is not None)
        for method in sorted(route.methods or ())
    ]


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every API route (method, full path, declared access level), included routers expanded."""
    out: list[RouteInfo] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            out += _infos(route.path, route, route.openapi_extra)
        elif hasattr(route, "effective_route_contexts"):
            # FastAPI >= 0.16x includes routers lazily; their contexts carry the full path.
            for context in route.effective_route_contexts():
                original = context.original_route
                if isinstance(original, APIRoute):
                    out += _infos(context.path, original, context.openapi_extra)
    return sorted(out, key=lambda r: (r.path, r.method))


ROUTES = api_routes(create_app(Settings(database_url="sqlite://"), start_worker=False))
API_ROUTES = [r for r in ROUTES if r.path.startswith(API_PREFIX)]


@dataclass(frozen=True)
class World:
    """Ids a sample request points at: another user, a role, a custom role, a pending request."""

    other_user: uuid.UUID
    role: uuid.UUID
    custom_role: uuid.UUID
    request: uuid.UUID
    domain: str
    token: uuid.UUID
    review: uuid.UUID
    review_item: uuid.UUID
    incident: uuid.UUID


def _bodies(w: World) -> dict[str, Any]:
    member = {"principal_id": str(w.other_user), "role_id": str(w.role)}
    return {
        "POST /api/v1/auth/sign-in": {"user_principal_name": "x@x.example", "password": "x" * 12},
        "POST /api/v1/auth/step-up": {"totp_code": "123456"},
        "POST /api/v1/auth/tokens": {"name": "ci"},
        "POST /api/v1/me/mfa/confirm": {"code": "123456"},
        "POST /api/v1/directory/domains": {"domain": "fabrikam.example"},
        "POST /api/v1/users": {
            "user_principal_name": f"new@{w.domain}",
            "display_name": "New",
            "password": PASSWORD,
        },
        "POST /api/v1/users/{user_id}/password": {"password": PASSWORD},
        "POST /api/v1/pim/wizard/convert": {"members": [member]},
        "POST /api/v1/roles": {"display_name": "Ops", "description": "ops"},
        "PATCH /api/v1/roles/{role_id}": {"display_name": "Ops 2"},
        "PATCH /api/v1/roles/{role_id}/settings": {"require_ticket_on_activation": True},
        "POST /api/v1/me/activations": {
            "role_id": str(w.role),
            "duration": "PT1H",
            "justification": "x",
        },
        "POST /api/v1/me/deactivations": {"role_id": str(w.role)},
        "POST /api/v1/me/extensions": {"role_id": str(w.role), "justification": "x"},
        "POST /api/v1/me/renewals": {"role_id": str(w.role), "justification": "x"},
        "POST /api/v1/assignments": {**member, "justification": "x"},
        "POST /api/v1/assignments/remove": {**member, "member_type": "Eligible"},
        "POST /api/v1/assignments/update": {**member, "end_at": FUTURE},
        "POST /api/v1/assignments/extend": {**member, "end_at": FUTURE},
        "POST /api/v1/assignments/renew": {**member, "end_at": FUTURE},
        "POST /api/v1/assignments/make-permanent": {**member, "justification": "x"},
        "POST /api/v1/assignments/make-eligible": {**member, "justification": "x"},
        "POST /api/v1/requests/{request_id}/approve": {"justification": "ok"},
        "POST /api/v1/requests/{request_id}/deny": {"justification": "no"},
        "POST /api/v1/requests/{request_id}/cancel": {"justification": "x"},
        # alerts, access reviews, notifications
        "POST /api/v1/alerts/incidents/{incident_id}/dismiss": {"reason": "known"},
        "POST /api/v1/alerts/incidents/{incident_id}/fix": {"action": "require_mfa", "items": []},
        "PATCH /api/v1/alerts/{alert_type}": {"enabled": False},
        "POST /api/v1/access-reviews": {
            "name": "Q1",
            "role_ids": [str(w.role)],
            "reviewer_ids": [str(w.other_user)],
            "duration": "P7D",
        },
        "POST /api/v1/access-reviews/items/{item_id}/decision": {"decision": "Approve"},
        "PUT /api/v1/notifications/email": {
            "host": "smtp.example",
            "port": 587,
            "from_address": "pim@x.example",
        },
        "POST /api/v1/notifications/webhooks": {"name": "hook", "url": "https://h.example/x"},
        "PATCH /api/v1/notifications/webhooks/{webhook_id}": {"enabled": False},
        "POST /api/v1/notifications/test": {"email": "a@x.example"},
    }


def sample_query(route: RouteInfo, world: World) -> dict[str, str]:
    """Routes that show the caller their own data unless asked about someone else: ask."""
    if route.method == "GET" and route.level == SELF_OR_READER and "{" not in route.path:
        return {"user_id": str(world.other_user)}
    return {}


def sample_body(route: RouteInfo, world: World) -> Any:
    if not route.has_body:
        return None
    bodies = _bodies(world)
    assert route.id in bodies, f"add a sample body for {route.id} to tests/api/routes.py"
    return bodies[route.id]


_PARAM = re.compile(r"\{(\w+)\}")
UNHELD_IDS = ("delivery_id", "event_id", "webhook_id")


def concrete_path(route: RouteInfo, world: World, *, ids: str | None = None) -> str:
    """The route's path with the world's values, or with `ids` for every id parameter."""
    values = {
        "user_id": str(world.other_user),
        "role_id": str(world.custom_role),
        "request_id": str(world.request),
        "token_id": str(world.token),
        "domain": world.domain,
        "alert_type": "too_many_global_admins",
        "review_id": str(world.review),
        "item_id": str(world.review_item),
        "incident_id": str(world.incident),
        # Ids nothing holds: their services authorise before they look.
        **{name: str(world.token) for name in UNHELD_IDS},
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no sample value for path parameter {{{name}}}"
        return ids if (ids is not None and name.endswith("_id")) else values[name]

    return _PARAM.sub(fill, route.path)
