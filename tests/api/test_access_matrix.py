"""Deny by default, checked over the whole route table: 401 without a token, 403 without rights."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2 as httpx
import pytest

from openpim.alerts import service as alerts_service
from openpim.api import deps
from openpim.kit.context import Actor
from openpim.reviews import lifecycle as review_lifecycle
from openpim.reviews import service as review_service
from openpim.reviews.rules import ReviewSpec
from openpim.roles import service as roles_service
from tests.api.helpers import Api, assert_problem
from tests.api.routes import (
    API_ROUTES,
    ROUTES,
    UNHELD_IDS,
    RouteInfo,
    World,
    concrete_path,
    sample_body,
    sample_query,
)
from tests.factories import HELPDESK_ADMIN, Env

# Levels that a signed-in user without any role does not have.
PRIVILEGED = {
    deps.READER,
    deps.MANAGER,
    deps.USER_ADMIN,
    deps.GLOBAL_ADMIN,
    deps.APPROVER,
    deps.REQUESTER_OR_MANAGER,
    deps.SELF_OR_READER,
}
PROTECTED = [r for r in API_ROUTES if r.path != deps.SIGN_IN_PATH]
PRIVILEGED_ROUTES = [r for r in API_ROUTES if r.level in PRIVILEGED]


def make_world(env: Env) -> tuple[World, Any, Any]:
    directory, admin = env.pim_directory()
    plain = env.user(directory, "plain")
    other = env.user(directory, "other")
    request = env.pending_request(other, HELPDESK_ADMIN)
    with env.ctx(Actor.operator("tests")) as ctx:
        custom = roles_service.create_custom_role(ctx, directory.id, "Custom Ops")
    env.eligible(other, HELPDESK_ADMIN)
    with env.ctx(Actor.operator("tests")) as ctx:
        spec = ReviewSpec(
            name="Q1",
            role_ids=[HELPDESK_ADMIN],
            reviewer_ids=[admin.id],
            duration=timedelta(days=7),
        )
        review = review_lifecycle.create_reviews(ctx, directory.id, spec)[0]
        item = review_service.list_items(ctx, review.id)[0][0]
        raised = [o for o in alerts_service.scan_now(ctx, directory.id) if o.incident_id]
    world = World(
        other_user=other.id,
        role=HELPDESK_ADMIN,
        custom_role=custom.id,
        request=request.id,
        domain=env.domain_of(directory),
        token=other.id,
        review=review.id,
        review_item=item.id,
        incident=raised[0].incident_id,  # one PRA only: "fewer than two" is raised
    )
    return world, admin, plain


def call(api: Api, route: RouteInfo, world: World, headers: dict[str, str]) -> httpx.Response:
    body = sample_body(route, world)
    return api.client.request(
        route.method,
        concrete_path(route, world),
        params=sample_query(route, world),
        headers=headers,
        json=body if body is not None else None,
    )


def test_the_route_table_is_complete_and_every_route_declares_its_access() -> None:
    assert len(API_ROUTES) >= 50
    for route in ROUTES:
        assert route.level in deps.LEVELS, f"{route.id} declares no access level"
    public = {r.id for r in ROUTES if r.level == deps.PUBLIC}
    assert public == {"POST /api/v1/auth/sign-in", "GET /healthz"}


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: r.id)
def test_every_route_but_sign_in_answers_401_without_a_token(api: Api, route: RouteInfo) -> None:
    world, _, _ = make_world(api.env)
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = call(api, route, world, headers)
        assert_problem(response, 401, "not_signed_in")
        assert response.headers["www-authenticate"].startswith("Bearer")
    forged = call(api, route, world, {"Authorization": "Bearer not-a-real-token"})
    assert_problem(forged, 401, "invalid_token")
    assert forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("route", PRIVILEGED_ROUTES, ids=lambda r: r.id)
def test_management_routes_answer_403_to_a_user_without_rights(api: Api, route: RouteInfo) -> None:
    world, _, plain = make_world(api.env)
    token = api.token(plain)
    response = call(api, route, world, {"Authorization": f"Bearer {token}"})
    assert_problem(response, 403)


@pytest.mark.parametrize(
    "route",
    [
        r
        for r in API_ROUTES
        if r.method == "GET"
        and r.level in (deps.READER, deps.SELF_OR_READER)
        and not any(f"{{{name}}}" in r.path for name in UNHELD_IDS)
    ],
    ids=lambda r: r.id,
)
def test_readers_get_what_plain_users_may_not(api: Api, route: RouteInfo) -> None:
    world, admin, _ = make_world(api.env)
    token = api.token(admin)
    response = call(api, route, world, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
