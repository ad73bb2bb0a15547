"""Shortcuts for the Graph API tests: a PIM directory with people in it, tokens, calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from openpim.auth.tokens import issue_session
from openpim.directory.models import Directory, User
from tests.factories import HELPDESK_ADMIN, PASSWORD_ADMIN, Env

V = "/v1.0"
RM = f"{V}/roleManagement/directory"
ASSIGNMENT_REQUESTS = f"{RM}/roleAssignmentScheduleRequests"
ELIGIBILITY_REQUESTS = f"{RM}/roleEligibilityScheduleRequests"
POLICIES = f"{V}/policies/roleManagementPolicies"
POLICY_ASSIGNMENTS = f"{V}/policies/roleManagementPolicyAssignments"


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def assert_graph_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a Graph error {"error": {"code", "message", "innerError"}}."""
    assert response.status_code == status, (response.status_code, response.text[:600])
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["x-request-id"]
    assert set(inner) >= {"date", "request-id", "client-request-id"}
    return dict(error)


@dataclass
class World:
    directory: Directory
    admin: User  # permanent Global Administrator, PRA and Security Administrator
    alice: User  # eligible for Helpdesk and Password Administrator, no other role
    bob: User  # no role at all


def make_world(env: Env) -> World:
    directory, admin = env.pim_directory()
    alice = env.user(directory, "alice")
    bob = env.user(directory, "bob")
    env.eligible(alice, HELPDESK_ADMIN)
    env.eligible(alice, PASSWORD_ADMIN)
    return World(directory, admin, alice, bob)


class Graph:
    """The test's client of /v1.0: TestClient calls with a bearer token."""

    def __init__(self, env: Env, client: TestClient) -> None:
        self.env = env
        self.client = client

    def token(self, user: User, *, mfa: bool = True) -> str:
        """A sign-in session made directly; mfa=True means MFA was proved at sign-in."""
        with self.env.ctx(self.env.actor(user)) as ctx:
            row = ctx.session.get(User, user.id)
            assert row is not None
            raw, _ = issue_session(ctx, row, mfa_verified_at=ctx.now if mfa else None)
        return raw

    def get(self, token: str, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, headers=bearer(token), params=params or None)

    def ok(self, token: str, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(token, path, **params)
        assert response.status_code == 200, response.text[:600]
        body: dict[str, Any] = response.json()
        return body

    def post(
        self, token: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.post(path, headers=bearer(token, **(headers or {})), json=body)

    def patch(self, token: str, path: str, body: Any) -> httpx.Response:
        return self.client.patch(path, headers=bearer(token), json=body)


def activation(
    principal: uuid.UUID | str,
    role: uuid.UUID | str,
    *,
    action: str = "selfActivate",
    duration: str | None = "PT1H",
    justification: str | None = "fix the mail flow",
    ticket: tuple[str, str] | None = None,
    start: str | None = None,
    validation_only: bool | None = None,
) -> dict[str, Any]:
    """A unifiedRoleAssignmentScheduleRequest body as Graph's docs show it."""
    body: dict[str, Any] = {
        "action": action,
        "principalId": str(principal),
        "roleDefinitionId": str(role),
        "directoryScopeId": "/",
    }
    if justification is not None:
        body["justification"] = justification
    if duration is not None or start is not None:
        info: dict[str, Any] = {}
        if start is not None:
            info["startDateTime"] = start
        if duration is not None:
            info["expiration"] = {"type": "afterDuration", "duration": duration}
        body["scheduleInfo"] = info
    if ticket is not None:
        body["ticketInfo"] = {"ticketNumber": ticket[0], "ticketSystem": ticket[1]}
    if validation_only is not None:
        body["isValidationOnly"] = validation_only
    return body
