"""Graph API tests: a TestClient over create_app(runtime=<the test runtime>)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openpim.app import create_app
from openpim.runtime import Runtime
from tests.factories import Env
from tests.graph.helpers import Graph, World, make_world


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime, start_worker=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def graph(env: Env, client: TestClient) -> Graph:
    return Graph(env, client)


@pytest.fixture
def world(env: Env) -> World:
    return make_world(env)
