"""Every notification links to a page the portal really serves."""

from __future__ import annotations

import uuid

import jinja2
from fastapi.testclient import TestClient

from openpim.app import create_app
from openpim.notifications.catalog import DEFAULT, EVENTS
from tests.factories import Env


def test_every_event_links_to_a_portal_page(env: Env) -> None:
    facts = {
        "role_id": uuid.uuid4(),
        "request_id": uuid.uuid4(),
        "data": {"review_id": str(uuid.uuid4())},
        "link_path": "/dashboard",
    }
    links = {
        name: jinja2.Template(spec.link).render(**facts)
        for name, spec in {**EVENTS, "default": DEFAULT}.items()
    }
    app = create_app(runtime=env.runtime, start_worker=False)
    with TestClient(app, follow_redirects=False) as client:
        for name, path in links.items():
            answer = client.get(path)
            # Signed out, a real page sends the visitor to sign in; an unknown path is a 404.
            assert answer.status_code in (200, 303), (name, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/sign-in"), (name, path)
    assert links["request.pending_approval"] == "/approvals"
    assert links["role.activated"] == f"/roles/{facts['role_id']}"
