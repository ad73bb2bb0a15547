"""No client input produces a 500, searched for by schemathesis from the app's own OpenAPI.

test_garbage.py sends hand-picked garbage to every route; this sends what Hypothesis derives from
each operation's published schema (values it allows and values it refuses) as an
administrator of a directory that holds one of everything, on SQLite and on PostgreSQL. Path ids
are either generated (mostly unknown: a 404 or 422) or the world's own, so the generated query
and body reach the services. It found the unbounded `offset` that PostgreSQL refused as "bigint
out of range".

Left out: the operations that end the caller's own session (sign-out, token revocation, a
password or MFA reset or disabling of a user, who may be the caller): every later case would be
a 401 and search nothing. test_garbage.py sends its garbage to those too.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from tests.api.helpers import Api, bearer
from tests.api.routes import World
from tests.api.test_access_matrix import make_world

ENDS_OWN_SESSION = re.compile(r"/auth/sign-out|/auth/tokens/|/password$|/disable$|/mfa/reset$")
# Deterministic (derandomized) in CI; raise it for a longer, different search on your machine.
EXAMPLES_PER_OPERATION = int(os.environ.get("OPENPIM_TEST_FUZZ_EXAMPLES", "10"))


def _world_ids(world: World) -> dict[str, str]:
    return {
        "user_id": str(world.other_user),
        "role_id": str(world.role),
        "request_id": str(world.request),
        "review_id": str(world.review),
        "item_id": str(world.review_item),
        "incident_id": str(world.incident),
        "domain": world.domain,
    }


def _send(api: Api, case: Any, token: str, ids: dict[str, str] | None) -> Any:
    path = case.operation.path
    for name, value in (case.path_parameters or {}).items():
        chosen = ids[name] if ids is not None and name in ids else value
        path = path.replace("{" + name + "}", quote(str(chosen), safe=""))
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
    return api.client.request(
        case.method,
        path,
        params=kwargs.get("params"),
        headers={**headers, **bearer(token)},
        json=kwargs.get("json"),
    )


def test_schema_derived_requests_are_never_a_500(api: Api) -> None:
    world, admin, _ = make_world(api.env)
    token = api.token(admin)
    ids = _world_ids(world)
    schema = schemathesis.openapi.from_dict(api.client.get("/openapi.json").json())
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the app's OpenAPI describes an operation badly: {result.err()}")
        if not ENDS_OWN_SESSION.search(result.ok().path):
            operations.append(result.ok())
    assert len(operations) > 100  # the schema was read, not an empty list searched
    failures: list[str] = []
    answered: set[int] = set()

    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases, use_world=st.booleans())
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: Any, use_world: bool) -> None:
            response = _send(api, case, token, ids if use_world else None)
            answered.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.as_curl_command()} -> {response.text[:200]}")

        probe()
    assert failures == []
    # The search reached the services, not only the validation in front of them.
    assert {200, 404, 422} <= answered, answered
