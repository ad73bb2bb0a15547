"""Through a real socket: uvicorn on 127.0.0.1 serving the app, and the worker in the lifespan."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from openpim.app import create_app
from openpim.runtime import Runtime
from tests.api.helpers import Api, bearer
from tests.factories import GLOBAL_READER
from tests.live_server import serving


@pytest.fixture
def server_url(runtime: Runtime) -> Iterator[str]:
    with serving(create_app(runtime=runtime, start_worker=False)) as url:
        yield url


def test_health_and_access_check_over_a_real_socket(api: Api, server_url: str) -> None:
    directory, _ = api.env.pim_directory()
    member = api.env.user(directory, "member")
    api.env.activated(member, GLOBAL_READER)
    token = api.token(member)
    with httpx.Client(base_url=server_url, timeout=10) as http:
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        check = http.get(
            f"/api/v1/access/users/{member.id}/roles/{GLOBAL_READER}",
            headers={**bearer(token), "X-Request-ID": "socket-1"},
        )
        assert check.status_code == 200 and check.json() == {"active": True}
        assert check.headers["x-request-id"] == "socket-1"
        denied = http.get(f"/api/v1/access/users/{member.id}/roles/{GLOBAL_READER}")
        assert denied.status_code == 401
        assert denied.headers["content-type"].startswith("application/problem+json")


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "openpim-worker"]


def test_the_lifespan_runs_and_stops_the_worker(runtime: Runtime) -> None:
    assert not workers()
    with TestClient(create_app(runtime=runtime, start_worker=True)) as client:
        assert client.get("/healthz").status_code == 200
        assert len(workers()) == 1
    assert not workers()  # stopped and joined by the lifespan's shutdown


def test_start_worker_false_overrides_the_setting(runtime: Runtime) -> None:
    assert runtime.settings.run_worker_in_server
    with TestClient(create_app(runtime=runtime, start_worker=False)) as client:
        assert client.get("/healthz").status_code == 200
        assert not workers()


def test_start_up_objects_are_frozen_while_serving(runtime: Runtime) -> None:
    """The lifespan hides start-up's objects from full GC passes while it serves (long pauses
    under load otherwise) and hands them back to the collector when it stops."""
    before = gc.get_freeze_count()  # another app serving in this process may have frozen some
    with TestClient(create_app(runtime=runtime, start_worker=False)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0
