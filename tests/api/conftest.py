"""API tests: a TestClient over create_app(runtime=<the test runtime>), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openpim.app import create_app
from openpim.auth import passwords
from openpim.runtime import Runtime
from tests.api.helpers import Api
from tests.factories import Env


@pytest.fixture(autouse=True)
def fast_hasher() -> Iterator[None]:
    """Real argon2id with tiny parameters: these tests are about the API, not hashing cost."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    passwords.use_hasher(previous)


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime, start_worker=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def api(env: Env, client: TestClient) -> Api:
    return Api(env, client)
