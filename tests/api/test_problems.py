"""The error contract (problem+json), request ids, rate limits, and the public endpoints."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from openpim.app import create_app
from openpim.audit.models import AuditEvent
from openpim.config import Settings
from openpim.runtime import Runtime
from tests.api.helpers import PASSWORD, Api, assert_problem, bearer
from tests.factories import GLOBAL_READER


def test_health_and_docs_need_no_token(api: Api) -> None:
    health = api.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert len(health.headers["x-request-id"]) == 32
    schema = api.client.get("/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    sign_in = document["paths"]["/api/v1/auth/sign-in"]["post"]
    assert "security" not in sign_in
    activation = document["paths"]["/api/v1/me/activations"]["post"]
    assert activation["x-openpim-access"] == "signed-in" and activation["summary"]
    assert activation["security"] == [{"bearer": []}]
    assert api.client.get("/docs").status_code == 200


def test_health_says_503_when_the_database_is_gone(runtime: Runtime) -> None:
    dead = Runtime.from_settings(
        Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"), runtime.clock
    )
    with TestClient(create_app(runtime=dead, start_worker=False)) as client:
        assert_problem(client.get("/healthz"), 503, "database_unavailable")


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    assert_problem(api.client.get("/nowhere"), 404, "not_found")
    assert_problem(api.get(token, "/nowhere"), 404, "not_found")
    # Without a token, even unknown API paths say 401: nothing is revealed before sign-in.
    assert_problem(api.client.get("/api/v1/nowhere"), 401, "not_signed_in")
    wrong_method = api.client.put("/api/v1/me", headers=bearer(token))
    assert_problem(wrong_method, 405, "method_not_allowed")
    assert "GET" in wrong_method.headers["allow"]


def test_domain_errors_carry_their_status_code_and_field(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    missing = assert_problem(api.get(token, f"/users/{uuid.uuid4()}"), 404, "user_not_found")
    assert missing["title"] == "Not found"
    too_short = api.post(
        token,
        "/users",
        {"user_principal_name": "x@y.example", "display_name": "X", "password": "short"},
    )
    body = assert_problem(too_short, 422, "password_too_short")
    assert body["field"] == "password"
    assert "short" not in body["detail"] or "characters" in body["detail"]


def test_validation_errors_list_fields_without_echoing_input(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    secret = "hunter2-" + "s" * 2000
    response = api.post(
        token, "/me/activations", {"role_id": "nope", "duration": secret, "totp_code": secret}
    )
    body = assert_problem(response, 422, "invalid_request")
    locations = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "role_id") in locations and ("body", "duration") in locations
    assert body["field"] in ("role_id", "duration", "totp_code")
    assert "hunter2" not in response.text
    assert set(body["errors"][0]) == {"loc", "msg", "type"}


def test_unexpected_errors_are_a_bare_500_with_the_request_id(
    app: FastAPI, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("database password is hunter2")

    # At the front, so no catch-all route mounted later can shadow it.
    app.router.routes.insert(0, APIRoute("/boom", boom, methods=["GET"]))

    with caplog.at_level(logging.ERROR, logger="openpim.api"):
        response = api.client.get("/boom", headers={"X-Request-ID": "trace-500"})
    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] == "trace-500"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert any("trace-500" in r.getMessage() for r in caplog.records)
    assert "hunter2" in caplog.text  # the operator gets the details, in the log


def test_request_id_is_echoed_validated_and_recorded_in_the_audit(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    token = api.token(admin)
    created = api.client.post(
        "/api/v1/users",
        headers={**bearer(token), "X-Request-ID": "req-42.a:b"},
        json={"user_principal_name": f"new@{api.env.domain_of(directory)}", "display_name": "New"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "req-42.a:b"
    with api.env.runtime.db.reader() as s:
        event = s.execute(
            select(AuditEvent).where(AuditEvent.action == "user.created")
        ).scalar_one()
        assert event.http_request_id == "req-42.a:b"
        assert event.client_address == "testclient"
        assert event.actor_id == admin.id

    for bad in ("has spaces", "x" * 65, "ünïcode".encode(), "-leading-dash", "a\tb"):
        response = api.client.get("/healthz", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32


def test_repeated_bad_sign_ins_are_rate_limited_with_retry_after(api: Api) -> None:
    _, admin = api.env.pim_directory()
    api.set_password(admin)
    for _ in range(api.env.runtime.settings.sign_in_failures_per_user):
        assert_problem(api.sign_in(admin, password="wrong password!"), 401, "invalid_credentials")
    limited = api.sign_in(admin, api.env.totp(admin))
    body = assert_problem(limited, 429, "too_many_attempts")
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 300 and body["retry_after_seconds"] == retry_after
    api.env.clock.advance(timedelta(seconds=retry_after))
    assert api.sign_in(admin, api.env.totp(admin)).status_code == 200


def test_sign_in_answers_say_what_to_do_next(api: Api) -> None:
    _, admin = api.env.pim_directory()
    api.set_password(admin)
    unknown = api.client.post(
        "/api/v1/auth/sign-in",
        json={"user_principal_name": "ghost@x.example", "password": PASSWORD},
    )
    assert_problem(unknown, 401, "invalid_credentials")
    need_code = api.sign_in(admin)
    assert_problem(need_code, 401, "mfa_required")
    assert need_code.headers["www-authenticate"].startswith("Bearer")
    ok = api.sign_in(admin, api.env.totp(admin))
    assert ok.status_code == 200
    token = ok.json()["access_token"]
    me = api.get(token, "/me").json()
    assert me["user_principal_name"] == admin.user_principal_name and me["mfa_enrolled"]
    assert "totp_secret" not in me and "password_hash" not in me
    assert api.post(token, "/auth/sign-out").status_code == 204
    assert_problem(api.get(token, "/me"), 401, "invalid_token")


def test_times_are_utc_iso_and_durations_iso_8601(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    settings = api.get(token, f"/roles/{GLOBAL_READER}/settings").json()
    assert settings["activation_max_duration"] == "PT8H"
    me = api.get(token, "/me").json()
    assert me["created_at"] == "2026-01-05T09:00:00Z"
    changed = api.patch(
        token, f"/roles/{GLOBAL_READER}/settings", {"activation_max_duration": "PT90M"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["activation_max_duration"] == "PT1H30M"


def test_api_tokens_round_trip(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    created = api.post(token, "/auth/tokens", {"name": "ci", "expires_at": "2026-02-01T00:00:00Z"})
    assert created.status_code == 201, created.text
    raw = created.json()["token"]
    assert raw.startswith("opk_")
    assert api.get(raw, "/me").status_code == 200
    listed = api.get(token, "/auth/tokens", params={"kind": "api"}).json()["value"]
    assert [t["name"] for t in listed] == ["ci"]
    naive = api.post(token, "/auth/tokens", {"name": "x", "expires_at": "2026-02-01T00:00:00"})
    assert_problem(naive, 422, "naive_datetime")
    assert api.delete(token, f"/auth/tokens/{listed[0]['id']}").status_code == 204
    assert_problem(api.get(raw, "/me"), 401, "invalid_token")
