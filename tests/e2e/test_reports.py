"""History and reports in a real browser: the three tabs pass axe-core, fit a 375 px screen,
draw their charts, and the CSV download carries the page's rows."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from openpim.assignments import service as membership
from openpim.assignments.models import MemberType
from openpim.directory import service as directory_service
from openpim.kit.context import Actor, ActorKind
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.e2e.conftest import LiveServer, console_errors
from tests.e2e.helpers import (
    assign,
    enable_pim_as,
    fits_narrow_screen,
    operator_user,
    sign_in,
    visit,
)

PASSWORD_ADMIN = uuid.UUID("966707d0-3269-4727-9be2-8c3a10f19b9d")


def _activations(live: LiveServer) -> tuple[uuid.UUID, str]:
    """Ada (admin) and Bob, who activated Password Administrator twice: one ended early."""
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        directory, admin, secret = directory_service.bootstrap(
            ctx,
            "Contoso",
            "contoso.example",
            "ada@contoso.example",
            "Ada Admin",
            "correct horse battery staple",
        )
        directory_id, admin_id = directory.id, admin.id
    enable_pim_as(live, directory_id, admin_id, "ada@contoso.example")
    bob_id, _ = operator_user(live, directory_id, "bob@contoso.example", "Bob")
    assign(live, directory_id, bob_id, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        update_role_settings(
            ctx, directory_id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=False)
        )
    bob = Actor(
        kind=ActorKind.USER, label="bob@contoso.example", user_id=bob_id, directory_id=directory_id
    )
    for reason in ("rotate the keys", "reset a password"):
        with live.runtime.unit(bob) as ctx:
            membership.self_activate(
                ctx, directory_id=directory_id, role_id=PASSWORD_ADMIN,
                duration=timedelta(hours=1), justification=reason,
            )  # fmt: skip
        live.clock.advance(timedelta(minutes=10))
        with live.runtime.unit(bob) as ctx:
            membership.self_deactivate(ctx, directory_id=directory_id, role_id=PASSWORD_ADMIN)
        live.clock.advance(timedelta(minutes=5))
    return directory_id, secret


def test_report_tabs_are_accessible_and_download(
    chromium: Any, live: LiveServer, axe_source: str
) -> None:
    _directory_id, secret = _activations(live)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live, "ada@contoso.example", secret)

    visit(page, live, "/reports?range=today", axe_source, "40-report-activations")
    assert page.locator("td:has-text('rotate the keys')").count() == 1
    assert page.locator("td:has-text('Deactivated')").count() == 2
    fits_narrow_screen(page)
    with page.expect_download() as download:
        page.click("a.button:has-text('CSV')")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["justification"] for r in rows} == {"rotate the keys", "reset a password"}

    page.click("nav.tabs a:has-text('Assignment changes')")
    page.wait_for_url("**/reports/changes*")
    visit(page, live, "/reports/changes?range=today", axe_source, "41-report-changes")
    assert page.locator("td:has-text('bob@contoso.example')").count() >= 1
    fits_narrow_screen(page)

    visit(page, live, "/reports/statistics?range=week", axe_source, "42-report-statistics")
    page.wait_for_selector("canvas#stats-activations[data-drawn]")
    page.wait_for_selector("canvas#stats-members[data-drawn]")
    fits_narrow_screen(page)
    assert not errors, errors
    context.close()
