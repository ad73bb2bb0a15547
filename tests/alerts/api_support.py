"""The API app for issue-4 router tests: the API helper's create_app, plus the alerts, reviews
and reports routers when app.py does not register them yet. Import `api4` into a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openpim.api import alerts as alerts_api
from openpim.api import reports as reports_api
from openpim.api import reviews as reviews_api
from openpim.api.deps import API_PREFIX
from openpim.app import create_app
from openpim.auth import passwords
from openpim.runtime import Runtime
from tests.api.helpers import Api
from tests.factories import Env

_ROUTERS = (alerts_api.router, reviews_api.router, reports_api.router)


def build_app(runtime: Runtime) -> FastAPI:
    app = create_app(runtime=runtime, start_worker=False)
    routes = app.router.routes
    registered = {id(getattr(r, "original_router", None)) for r in routes}
    count = len(routes)
    for router in _ROUTERS:
        if id(router) not in registered:
            app.include_router(router, prefix=API_PREFIX)
    # Ahead of the portal and the Graph fallback, as app.py orders the API routers.
    added = routes[count:]
    del routes[count:]
    first_non_api = next(
        (i for i, r in enumerate(routes) if getattr(r, "path", None) == "/static"), len(routes)
    )
    routes[first_non_api:first_non_api] = added
    return app


@pytest.fixture
def api4(env: Env, runtime: Runtime) -> Iterator[Api]:
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    try:
        with TestClient(build_app(runtime)) as client:
            yield Api(env, client)
    finally:
        passwords.use_hasher(previous)
