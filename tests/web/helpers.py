"""A cookie-keeping client that behaves like a browser on the portal's forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from openpim.directory.models import User
from tests.factories import PORTAL_PASSWORD, Env, set_password

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed (for "the page says ..." checks)."""
    body = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


class Browser:
    def __init__(self, env: Env, client: TestClient) -> None:
        self.env = env
        self.client = client
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.get(path, **kwargs)
        if "text/html" in response.headers.get("content-type", "") and CSRF.search(response.text):
            self.token = csrf_of(response.text)
        return response

    def page(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:800])
        return response.text

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        if self.token is None:
            self.get("/sign-in")
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.token)
        response = self.client.post(path, data=body, **kwargs)
        if "text/html" in response.headers.get("content-type", "") and CSRF.search(response.text):
            self.token = csrf_of(response.text)
        return response

    def sign_in(
        self,
        user: User,
        *,
        code: str | None = None,
        with_password: bool = True,
        directory: str = "",
    ) -> None:
        if with_password:
            set_password(self.env, user)
        self.get("/sign-in")
        response = self.post(
            "/sign-in",
            {
                "upn": user.user_principal_name,
                "password": PORTAL_PASSWORD,
                "totp_code": code if code is not None else self.env.totp(user),
                "directory": directory,
            },
        )
        assert response.status_code == 303, response.text[:800]
        # A TOTP code is good once: later steps in the same 30 s window need the next step.
        self.env.clock.advance(timedelta(seconds=30))
        self.page("/dashboard")

    @property
    def session(self) -> str | None:
        for name in ("openpim_session", "__Host-openpim_session"):
            value = self.client.cookies.get(name)
            if value:
                return value
        return None
