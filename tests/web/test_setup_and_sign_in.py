"""First run, sign-in messages, sign-out, session cookies, timeouts and rotation."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from openpim.auth.models import AuthToken
from openpim.auth.tokens import hash_token
from tests.factories import PORTAL_PASSWORD, Env, set_password
from tests.web.helpers import Browser, text_of

SETUP = {
    "directory_name": "Contoso",
    "domain": "contoso.example",
    "admin_upn": "ada@contoso.example",
    "admin_display_name": "Ada Admin",
    "password": PORTAL_PASSWORD,
    "password_confirm": PORTAL_PASSWORD,
}


def test_first_run_bootstraps_with_a_qr_code_then_the_page_is_gone(
    env: Env, browser: Browser
) -> None:
    first = browser.get("/")
    assert first.status_code == 303 and first.headers["location"] == "/setup"
    browser.page("/setup")
    mismatch = browser.post("/setup", {**SETUP, "password_confirm": "something else entirely"})
    assert mismatch.status_code == 422 and "The two passwords differ." in mismatch.text
    created = browser.post("/setup", SETUP)
    assert created.status_code == 200
    assert '<svg width="' in created.text and 'class="qr"' in created.text
    secret = re.search(r'data-secret="([A-Z2-7]+)"', created.text)
    assert secret is not None
    wrong = browser.post(
        "/setup/confirm",
        {"upn": SETUP["admin_upn"], "password": PORTAL_PASSWORD, "totp_code": "000000"},
    )
    assert wrong.status_code == 401
    assert "The user name, password or code is incorrect." in text_of(wrong.text)
    code = pyotp.TOTP(secret.group(1)).at(env.now)
    confirmed = browser.post(
        "/setup/confirm",
        {"upn": SETUP["admin_upn"], "password": PORTAL_PASSWORD, "totp_code": code},
    )
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/pim/enable"
    assert browser.session is not None
    assert "Enable PIM for Contoso" in browser.page("/pim/enable")
    assert browser.get("/setup").status_code == 404
    again = browser.post("/setup", SETUP)
    assert again.status_code == 404 and "already set up" in text_of(again.text)


def test_sign_in_messages_for_a_wrong_code_a_missing_code_and_a_locked_account(
    env: Env, browser: Browser
) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory, "bob")
    set_password(env, bob)
    browser.get("/sign-in")
    base = {"upn": bob.user_principal_name, "password": PORTAL_PASSWORD}
    missing = browser.post("/sign-in", base)
    assert missing.status_code == 401
    assert "Enter the 6-digit code from your authenticator app." in text_of(missing.text)
    wrong = browser.post("/sign-in", {**base, "totp_code": "000000"})
    assert "The user name, password or code is incorrect." in text_of(wrong.text)
    for _ in range(env.runtime.settings.sign_in_failures_per_user):
        browser.post("/sign-in", {**base, "password": "not the password at all"})
    locked = browser.post("/sign-in", {**base, "totp_code": env.totp(bob)})
    assert locked.status_code == 429
    assert "locked" in text_of(locked.text) and "Try again in" in text_of(locked.text)
    assert browser.session is None


def test_session_cookie_flags_and_rotation_at_sign_in(env: Env, app: FastAPI) -> None:
    _directory, admin = env.pim_directory()
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        browser = Browser(env, client)
        browser.sign_in(admin)
        first = browser.session
        assert first is not None and client.cookies.get("__Host-openpim_session") == first
        response = browser.post(
            "/sign-in",
            {
                "upn": admin.user_principal_name,
                "password": PORTAL_PASSWORD,
                "totp_code": env.totp(admin),
            },
        )
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("__Host-openpim_session="))
        for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
            assert flag.lower() in session_cookie.lower(), session_cookie
        assert "domain=" not in session_cookie.lower()
        second = browser.session
        assert second and second != first
        with env.runtime.db.reader() as s:
            old = s.query(AuthToken).filter_by(token_hash=hash_token(first)).one()
            assert old.revoked_at is not None


def test_idle_and_absolute_timeouts_send_the_browser_back_to_sign_in(
    env: Env, browser: Browser
) -> None:
    _directory, admin = env.pim_directory()
    browser.sign_in(admin)
    env.clock.advance(env.runtime.settings.session_idle_timeout + timedelta(seconds=1))
    ended = browser.get("/my-roles")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/sign-in?next=%2Fmy-roles&msg=session_ended"
    browser.sign_in(admin, with_password=False)
    step = timedelta(minutes=20)
    elapsed = timedelta()
    while elapsed < env.runtime.settings.session_absolute_timeout:
        assert browser.get("/my-roles").status_code == 200
        env.clock.advance(step)
        elapsed += step
    assert browser.get("/my-roles").status_code == 303


def test_sign_out_revokes_the_session(env: Env, browser: Browser) -> None:
    _directory, admin = env.pim_directory()
    browser.sign_in(admin)
    raw = browser.session
    out = browser.post("/sign-out")
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?msg=signed_out"
    assert browser.session is None
    browser.client.cookies.set("openpim_session", raw or "")
    assert browser.get("/dashboard").status_code == 303


def test_directory_switcher_signs_in_to_the_other_account(env: Env, browser: Browser) -> None:
    home, _ = env.pim_directory()
    other = env.directory("Fabrikam", "fabrikam.example")
    guest_home = env.user(home, "guest", external=True)
    guest_other = env.user(other, "guest", external=True)
    set_password(env, guest_other)
    # The same external name in two directories: sign-in asks which (by its domain).
    browser.sign_in(guest_home, directory=env.domain_of(home))
    page = browser.page("/dashboard")
    assert 'id="switch-dir"' in page and "Fabrikam" in page
    form = browser.page(f"/switch-directory?directory={other.id}")
    assert "Sign in to Fabrikam" in text_of(form)
    done = browser.post(
        "/sign-in",
        {
            "upn": guest_other.user_principal_name,
            "password": PORTAL_PASSWORD,
            "totp_code": env.totp(guest_other),
            "directory": str(other.id),
            "next": "/dashboard",
        },
    )
    assert done.status_code == 303
    assert "Fabrikam" in text_of(browser.page("/dashboard"))
