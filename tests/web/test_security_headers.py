"""Every response carries its security headers; HSTS only where the request came over HTTPS."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Env

EVERYWHERE = {"x-content-type-options": "nosniff", "cache-control": "no-store"}
PAGES = {"x-frame-options": "DENY", "referrer-policy": "same-origin"}
HSTS = "strict-transport-security"


def test_pages_and_api_answers_carry_their_security_headers(env: Env, app: FastAPI) -> None:
    env.pim_directory()
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/sign-in")
        api = client.get("/api/v1/me")  # refused: a problem document, headers all the same
    for response in (page, api):
        assert response.headers["x-request-id"]
        for name, value in EVERYWHERE.items():
            assert response.headers[name] == value, (name, response.url)
        assert HSTS not in response.headers  # plain HTTP: a browser would ignore it anyway
    for name, value in PAGES.items():
        assert page.headers[name] == value
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp


def test_over_https_browsers_are_told_to_stay_on_https(env: Env, app: FastAPI) -> None:
    env.pim_directory()
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        for response in (client.get("/sign-in"), client.get("/api/v1/me"), client.get("/healthz")):
            assert response.headers[HSTS] == "max-age=31536000", response.url
