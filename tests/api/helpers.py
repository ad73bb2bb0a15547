"""Shortcuts for API tests: users with passwords, tokens, and calls with a bearer token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from openpim.auth import passwords
from openpim.auth.tokens import issue_session
from openpim.directory.models import User
from tests.factories import Env

PASSWORD = "correct horse battery staple"
PROBLEM_JSON = "application/problem+json"
V1 = "/api/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with the given status (and code)."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == f"https://openpim.dev/problems/{body['code']}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code, body
    return body


class Api:
    """The test's view of the API: the client plus the factories' Env."""

    def __init__(self, env: Env, client: TestClient) -> None:
        self.env = env
        self.client = client

    def set_password(self, user: User, password: str = PASSWORD) -> None:
        with self.env.runtime.db.unit_of_work() as s:
            row = s.get(User, user.id)
            assert row is not None
            row.password_hash = passwords.hash_password(password)

    def token(self, user: User, *, mfa: bool = True) -> str:
        """A sign-in session made directly (fast set-up); sign-in itself is tested through HTTP."""
        with self.env.ctx(self.env.actor(user)) as ctx:
            row = ctx.session.get(User, user.id)
            assert row is not None
            raw, _ = issue_session(ctx, row, mfa_verified_at=ctx.now if mfa else None)
        return raw

    def sign_in(
        self, user: User, code: str | None = None, password: str = PASSWORD
    ) -> httpx.Response:
        return self.client.post(
            f"{V1}/auth/sign-in",
            json={
                "user_principal_name": user.user_principal_name,
                "password": password,
                "totp_code": code,
            },
        )

    def get(self, token: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(V1 + path, headers=bearer(token), **kwargs)

    def post(self, token: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(V1 + path, headers=bearer(token), json=body, **kwargs)

    def patch(self, token: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.patch(V1 + path, headers=bearer(token), json=body)

    def delete(self, token: str, path: str) -> httpx.Response:
        return self.client.delete(V1 + path, headers=bearer(token))


def new_id() -> str:
    return str(uuid.uuid4())
