"""Portal tests: a TestClient over create_app(runtime=<the test runtime>), SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openpim.app import create_app
from openpim.auth import passwords
from openpim.runtime import Runtime
from tests.factories import Env
from tests.web.helpers import Browser


@pytest.fixture(autouse=True)
def fast_hasher() -> Iterator[None]:
    """Real argon2id with tiny parameters: these tests are about pages, not hashing cost."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    passwords.use_hasher(previous)


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime, start_worker=False)


@pytest.fixture
def browser(env: Env, app: FastAPI) -> Iterator[Browser]:
    with TestClient(app, follow_redirects=False) as client:
        yield Browser(env, client)


@pytest.fixture
def second_browser(env: Env, app: FastAPI) -> Iterator[Browser]:
    with TestClient(app, follow_redirects=False) as client:
        yield Browser(env, client)
