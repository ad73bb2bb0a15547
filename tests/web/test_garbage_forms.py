"""No form or link input produces a 500 on the portal either: garbage in every declared field.

Every portal route's query parameters (GET) and form fields (POST) are read off the app's
route table, so a new route or field is covered without touching this file; the few inputs
a page reads from the raw form (notification rules, alert thresholds) are added by name. Each
field gets each garbage value in turn while the other fields hold plausible values, so the
garbage gets past "field required" and reaches the page's own parsing and the services. Signed
in as a Privileged Role Administrator with ids of a world that holds one of everything.

Left out: the routes that change the caller's own sign-in (sign-in, sign-out, first-run set-up
confirmation, MFA enrolment); tests/web/test_setup_and_sign_in.py tries bad input there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote, urlencode

from fastapi.routing import APIRoute

from openpim.alerts.definitions import AlertType, definition
from openpim.web.pages.settings import _RULE_INPUTS
from tests.api.test_access_matrix import make_world
from tests.factories import Env
from tests.web.helpers import Browser, text_of
from tests.web.test_csrf import BEARER_PREFIXES, all_routes

OWN_SIGN_IN = re.compile(r"^/(sign-in|sign-out|setup/confirm|account/mfa/)")
# Percent-encoded as sent: invalid UTF-8, a NUL, and text that is not what the field expects.
GARBAGE = [
    "",
    "%00",
    "a%00b",
    "%ED%A0%80",  # a UTF-16 surrogate encoded as UTF-8: not valid UTF-8
    "%FF%FE",
    "x" * 5000,
    "-1",
    "99999999999999999999",
    str(2**63),
    "1e309",
    "nan",
    "2026-02-30T00%3A00",
    "0001-01-01T00%3A00%3A00%2B14%3A00",
    "9999-12-31T23%3A59%3A59-12%3A00",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "%3Cscript%3E",
]
# Plausible values by field name (anything else gets "x").
PLAUSIBLE = {
    "duration_minutes": "60",
    "duration_days": "14",
    "member_type": "Eligible",
    "decision": "Approve",
    "justification": "routine",
    "reason": "routine",
    "kind": "extend",
    "change": "remove",
    "view": "all",
    "offset": "0",
    "n": "1",
    "enabled": "on",
    "port": "25",
    "security": "none",
    "format": "json",
    "url": "https://hooks.example/x",
    "from_address": "pim@example.com",
    "host": "smtp.example",
    "email": "a@example.com",
    "scope": "role",
    "reviewer_mode": "selected",
    "recurrence": "once",
    "ends": "never",
    "default_decision": "none",
    "activation_max_hours": "8",
    "eligible_max_days": "365",
    "active_max_days": "180",
    "range_": "past_month",
    "status": "open",
    "action": "require_mfa",
}


def _world_path(path: str, ids: dict[str, str]) -> str:
    for name in re.findall(r"{(\w+)}", path):
        path = path.replace("{" + name + "}", quote(ids.get(name, str(uuid.uuid4())), safe=""))
    return path


def _fields(route: APIRoute) -> list[str]:
    def walk(dependant: object) -> Iterator[str]:
        yield from (p.alias for p in getattr(dependant, "query_params", []))
        yield from (p.alias for p in getattr(dependant, "body_params", []))
        for sub in getattr(dependant, "dependencies", []):
            yield from walk(sub)

    return sorted({name for name in walk(route.dependant) if name != "csrf_token"})


def route_method(route: APIRoute) -> str:
    return "GET" if "GET" in (route.methods or ()) else "POST"


def _read_raw(path: str) -> list[str]:
    """Inputs a page reads from the raw form rather than declaring them: of the notification
    rules' 27 (9 rules x default, extra, level) one rule's three, as all nine parse alike."""
    return list(_RULE_INPUTS[:3]) if path == "/roles/{role_id}/settings" else []


def _body(fields: list[str], bad_field: str, bad_value: str, csrf: str | None) -> str:
    good = {f: PLAUSIBLE.get(f, "x") for f in fields if f != bad_field}
    if csrf is not None:
        good["csrf_token"] = csrf
    return urlencode(good) + f"&{quote(bad_field)}={bad_value}"


def test_garbage_in_any_portal_field_is_never_a_500(env: Env, browser: Browser) -> None:
    world, admin, _ = make_world(env)
    browser.sign_in(admin)
    ids = {
        "role_id": str(world.role),
        "user_id": str(world.other_user),
        "request_id": str(world.request),
        "review_id": str(world.review),
        "item_id": str(world.review_item),
        "incident_id": str(world.incident),
        "alert_type": AlertType.TOO_FEW_PRAS.value,
        "fmt": "csv",
        "part": "days",
    }
    routes = [
        (path, route)
        for path, route in all_routes(browser.client.app)  # type: ignore[arg-type]
        if not path.startswith((*BEARER_PREFIXES, "/static")) and not OWN_SIGN_IN.match(path)
    ]
    assert len(routes) > 60  # the route table was read
    browser.get("/my-roles")  # the session's CSRF token, as every page carries it
    targets = [
        (route_method(route), _world_path(path, ids), _fields(route) + _read_raw(path))
        for path, route in routes
    ]
    # The thresholds each alert type's configuration form reads from the raw form.
    for alert in AlertType:
        thresholds = [f"t_{t.name}" for t in definition(alert.value).thresholds]
        if thresholds:
            targets.append(("POST", f"/alerts/{alert.value}/config", ["enabled", *thresholds]))
    failures: list[str] = []
    sent = 0
    answered: dict[str, set[int]] = {"GET": set(), "POST": set()}
    for method, url, fields in targets:
        for field in fields or ["unexpected"]:
            for bad in GARBAGE:
                if method == "GET":
                    response = browser.client.get(f"{url}?{_body(fields, field, bad, None)}")
                else:
                    response = browser.client.post(
                        url,
                        content=_body(fields, field, bad, browser.token),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                sent += 1
                answered[method].add(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{method} {url} {field}={bad[:40]}")
    assert failures == [], "\n".join(failures)
    assert sent > 1000
    # The garbage reached pages and handlers (the CSRF token was good), not only the guards.
    assert {200, 422} <= answered["GET"] and {303, 422} <= answered["POST"], answered


def test_garbage_in_the_sign_in_forms_is_never_a_500(env: Env, browser: Browser) -> None:
    """The routes left out above, each on its own: signed out, then as a user of no role."""
    _world, _admin, plain = make_world(env)
    browser.get("/sign-in")
    signed_out = {
        "/sign-in": ["upn", "password", "totp_code", "directory", "next_url"],
        "/setup/confirm": ["upn", "password", "totp_code"],
    }
    statuses: set[int] = set()
    failures: list[str] = []

    def send(url: str, fields: list[str]) -> None:
        for field in fields:
            for bad in GARBAGE:
                # Past the sign-in rate limit's window, so the garbage reaches the parsing.
                env.clock.advance(timedelta(minutes=6))
                response = browser.client.post(
                    url,
                    content=_body(fields, field, bad, browser.token),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                statuses.add(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"POST {url} {field}={bad[:40]}")

    for url, fields in signed_out.items():
        send(url, fields)
    browser.sign_in(plain)
    browser.get("/account")
    send("/account/mfa/confirm", ["code"])
    assert failures == [], "\n".join(failures)
    # A NUL anywhere in a form is refused before any page reads it (PostgreSQL cannot store it).
    nul = browser.client.post(
        "/account/mfa/confirm",
        content=_body(["code"], "code", "12%0034", browser.token),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert nul.status_code == 422 and "may not contain NUL characters" in text_of(nul.text)
    assert 429 not in statuses and statuses & {200, 303, 400, 401, 409, 422}, statuses


def test_garbage_in_any_portal_path_segment_is_never_a_500(env: Env, browser: Browser) -> None:
    _world, admin, _ = make_world(env)
    browser.sign_in(admin)
    browser.get("/my-roles")
    routes = [
        (route_method(route), path)
        for path, route in all_routes(browser.client.app)  # type: ignore[arg-type]
        if "{" in path and not path.startswith((*BEARER_PREFIXES, "/static"))
    ]
    assert len(routes) > 30
    failures = []
    for method, path in routes:
        for bad in ("x", "%C2%B2", "99999999999999999999", "%00", "..", "a" * 300):
            url = re.sub(r"{\w+}", bad, path)
            if method == "GET":
                response = browser.client.get(url)
            else:
                response = browser.client.post(
                    url,
                    content=f"csrf_token={browser.token}",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            if response.status_code >= 500:
                failures.append(f"{method} {url}")
    assert failures == [], "\n".join(failures)
