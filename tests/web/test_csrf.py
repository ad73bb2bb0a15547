"""CSRF: every state-changing portal route is protected, and a forged post changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from openpim.api.deps import API_PREFIX
from openpim.app import create_app
from openpim.config import Settings
from openpim.roles import ids
from openpim.web.portal import get_portal
from openpim.web.security import verify_csrf
from tests.factories import Env
from tests.web.helpers import Browser, text_of

SAFE = {"GET", "HEAD", "OPTIONS"}
# Bearer-token APIs: a browser never attaches an Authorization header on its own, so a forged
# cross-site request cannot carry the victim's credentials there.
BEARER_PREFIXES = (API_PREFIX, "/v1.0")


def all_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route.path, route
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    yield context.path, context.original_route


def calls(dependant: Dependant) -> Iterator[object]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def test_every_state_changing_route_has_csrf_protection() -> None:
    app = create_app(Settings(database_url="sqlite://"), start_worker=False)
    checked = []
    for path, route in all_routes(app):
        changing = set(route.methods or ()) - SAFE
        used = set(calls(route.dependant))
        if path.startswith(BEARER_PREFIXES):
            assert get_portal not in used, f"{path} mixes cookie sessions into the bearer API"
            continue
        if changing:
            assert verify_csrf in used, f"{sorted(changing)} {path} lacks CSRF protection"
            checked.append(path)
        else:
            assert verify_csrf not in used, f"GET {path} should not need a token"
    assert len(checked) >= 12, checked


def test_a_forged_post_without_a_token_is_refused_and_changes_nothing(
    env: Env, browser: Browser
) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    browser.sign_in(admin)
    response = browser.post(
        f"/roles/{ids.SECURITY_READER}/members",
        {"user": bob.user_principal_name, "member_type": "Eligible"},
        csrf=False,
    )
    assert response.status_code == 403
    assert "did not come from this site" in text_of(response.text)
    page = browser.page(f"/roles/{ids.SECURITY_READER}")
    assert bob.user_principal_name not in page


def test_a_wrong_token_or_a_cross_site_origin_is_refused(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    browser.sign_in(admin)
    path = f"/roles/{ids.SECURITY_READER}/members"
    data = {"user": bob.user_principal_name, "member_type": "Eligible"}
    assert browser.post(path, {**data, "csrf_token": "0" * 64}).status_code == 403
    forged = browser.post(path, data, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert "another site" in text_of(forged.text)
    fetched = browser.post(path, data, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403
    # The same post from the page itself goes through.
    ok = browser.post(path, data, headers={"Origin": "http://testserver"})
    assert ok.status_code == 303, ok.text[:500]


def test_htmx_requests_carry_the_token_in_a_header(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    browser.sign_in(admin)
    assert browser.token is not None
    response = browser.client.post(
        f"/roles/{ids.SECURITY_READER}/members",
        data={"user": bob.user_principal_name, "member_type": "Eligible"},
        headers={"HX-Request": "true", "X-CSRF-Token": browser.token},
    )
    assert response.status_code == 200
    assert "The member was added." in text_of(response.text)
    assert response.headers["HX-Push-Url"] == f"/roles/{ids.SECURITY_READER}"


def test_the_token_changes_at_sign_in(env: Env, browser: Browser) -> None:
    _directory, admin = env.pim_directory()
    browser.get("/sign-in")
    before = browser.token
    browser.sign_in(admin)
    assert browser.token != before
