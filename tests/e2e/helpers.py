"""Set-up through the services (as the server's operator) and small page helpers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pyotp

from openpim.assignments import service as membership
from openpim.assignments.models import MemberType
from openpim.auth import mfa
from openpim.directory import service as directory_service
from openpim.kit.context import Actor, ActorKind
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot

PASSWORD = "correct horse battery staple"


def operator_user(
    live: LiveServer, directory_id: uuid.UUID, upn: str, name: str
) -> tuple[uuid.UUID, str]:
    """A user with a password and an enrolled authenticator; returns (id, TOTP secret)."""
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        user = directory_service.create_user(ctx, directory_id, upn, name, PASSWORD)
        enrollment = mfa.begin_totp_enrollment(ctx, user.id)
        mfa.confirm_totp_enrollment(ctx, user.id, pyotp.TOTP(enrollment.secret).at(ctx.now))
        made = user.id, enrollment.secret
    live.clock.advance(timedelta(seconds=30))  # that code is used: the next one is new
    return made


def assign(
    live: LiveServer,
    directory_id: uuid.UUID,
    user_id: uuid.UUID,
    role_id: uuid.UUID,
    member_type: MemberType,
) -> None:
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        membership.admin_assign(
            ctx,
            directory_id=directory_id,
            principal_id=user_id,
            role_id=role_id,
            member_type=member_type,
            justification="set up by the browser test",
        )


def enable_pim_as(live: LiveServer, directory_id: uuid.UUID, user_id: uuid.UUID, upn: str) -> None:
    actor = Actor(kind=ActorKind.USER, label=upn, user_id=user_id, directory_id=directory_id)
    with live.runtime.unit(actor) as ctx:
        membership.enable_pim(ctx, directory_id)


def code(live: LiveServer, secret: str) -> str:
    """The current code; the clock moves one TOTP step on so the next code is a new one."""
    value = pyotp.TOTP(secret).at(live.clock.now())
    live.clock.advance(timedelta(seconds=30))
    return value


def sign_in(page: Any, live: LiveServer, upn: str, secret: str | None) -> None:
    page.goto(live.url + "/sign-in")
    page.fill("#f-upn", upn)
    page.fill("#f-password", PASSWORD)
    if secret:
        page.fill("#f-totp_code", code(live, secret))
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/dashboard*")


def visit(page: Any, live: LiveServer, path: str, axe: str, shot: str | None = None) -> None:
    """Open a page, check it with axe-core and at 375 px, and keep a screenshot."""
    response = page.goto(live.url + path)
    assert response is not None and response.status == 200, (path, response and response.status)
    check_accessibility(page, axe, path)
    if shot:
        screenshot(page, shot)
        live.shots.append(shot)


def fits_narrow_screen(page: Any) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(150)  # charts resize on the next animation frames
    overflow = page.evaluate("document.documentElement.scrollWidth")
    culprits = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 376)
            .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    assert overflow <= 375, f"{page.url} is {overflow}px wide at a 375px viewport: {culprits}"
