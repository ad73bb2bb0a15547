"""Two people at once: an approval with the self-approval refusal; read-only views; forgery."""

from __future__ import annotations

import uuid
from typing import Any

from openpim.assignments.models import MemberType
from openpim.directory import service as directory_service
from openpim.kit.context import Actor
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.roles import ids
from tests.e2e.conftest import LiveServer, check_accessibility, console_errors, screenshot
from tests.e2e.helpers import (
    PASSWORD,
    assign,
    code,
    enable_pim_as,
    operator_user,
    sign_in,
    visit,
)

PASSWORD_ADMIN = uuid.UUID("966707d0-3269-4727-9be2-8c3a10f19b9d")


def _directory(live: LiveServer) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A bootstrapped directory with PIM enabled; returns (directory, admin, admin's secret)."""
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        directory, admin, secret = directory_service.bootstrap(
            ctx, "Contoso", "contoso.example", "ada@contoso.example", "Ada Admin", PASSWORD
        )
        ids_ = (directory.id, admin.id)
    enable_pim_as(live, ids_[0], ids_[1], "ada@contoso.example")
    return ids_[0], ids_[1], secret


def test_approval_in_two_browsers_with_the_self_approval_refusal(
    chromium: Any, live: LiveServer, axe_source: str
) -> None:
    directory_id, _admin_id, admin_secret = _directory(live)
    # Rita manages PIM too (so she could approve others), and is eligible for a role that
    # needs approval: her own request is still not hers to approve.
    rita_id, rita_secret = operator_user(live, directory_id, "rita@contoso.example", "Rita")
    assign(live, directory_id, rita_id, ids.PRIVILEGED_ROLE_ADMINISTRATOR, MemberType.ACTIVE)
    assign(live, directory_id, rita_id, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        update_role_settings(
            ctx,
            directory_id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(require_approval_on_activation=True),
        )

    rita_ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    rita = rita_ctx.new_page()
    rita_errors = console_errors(rita)
    sign_in(rita, live, "rita@contoso.example", rita_secret)
    rita.goto(f"{live.url}/my-roles/{PASSWORD_ADMIN}/activate")
    assert rita.locator("text=Approval: required").count() == 1
    rita.fill("#f-justification", "unlock the finance mailbox")
    rita.click("#activate-form button[type=submit]")
    rita.wait_for_selector("text=Your activation request is waiting for approval.")
    visit(rita, live, "/approvals", axe_source, "20-approvals-own-request")
    assert rita.locator("text=Your request: not yours to approve").count() == 1
    assert rita.is_disabled(".request.own button:has-text('Approve')")
    # Even a hand-made post with a valid token is refused by the server.
    token = rita.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    request_id = rita.get_attribute(".request.own", "id").removeprefix("own-")  # type: ignore[union-attr]
    forged = rita.request.post(
        f"{live.url}/requests/{request_id}/decide",
        form={"decision": "approve", "justification": "me", "csrf_token": token},
        headers={"Origin": live.url},
    )
    assert forged.status == 403 and "You cannot decide on your own request." in forged.text()

    ada_ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    ada = ada_ctx.new_page()
    ada_errors = console_errors(ada)
    sign_in(ada, live, "ada@contoso.example", admin_secret)
    visit(ada, live, "/approvals", axe_source, "21-approvals-to-decide")
    card = ada.locator(f"#req-{request_id}")
    assert "unlock the finance mailbox" in card.inner_text()
    card.locator("textarea").fill("Checked with the finance team")
    card.locator("button:has-text('Approve')").click()
    ada.wait_for_selector("text=The request is approved.")
    check_accessibility(ada, axe_source, "approvals after the decision")

    rita.goto(f"{live.url}/my-roles")
    row = rita.locator("#active-roles tr[data-role='Password Administrator']")
    assert row.count() == 1 and "Activated" in row.inner_text()
    visit(rita, live, "/my-requests", axe_source, "22-my-requests-approved")
    assert rita.locator("text=Provisioned").count() >= 1
    assert not rita_errors and not ada_errors, (rita_errors, ada_errors)
    rita_ctx.close()
    ada_ctx.close()


def test_read_only_views_and_a_forged_post(
    chromium: Any, live: LiveServer, axe_source: str
) -> None:
    directory_id, _admin_id, _secret = _directory(live)
    sam_id, sam_secret = operator_user(live, directory_id, "sam@contoso.example", "Sam Reader")
    assign(live, directory_id, sam_id, ids.SECURITY_READER, MemberType.ACTIVE)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live, "sam@contoso.example", sam_secret)
    visit(page, live, f"/roles/{ids.GLOBAL_ADMINISTRATOR}", axe_source, "23-read-only-role")
    assert page.locator("text=Only a Privileged Role Administrator can change them").count() == 1
    assert page.locator("button:has-text('Remove')").count() == 0
    assert page.locator("text=Add a member").count() == 0
    visit(
        page,
        live,
        f"/roles/{ids.GLOBAL_ADMINISTRATOR}/settings",
        axe_source,
        "24-read-only-settings",
    )
    assert page.locator("button:has-text('Save settings')").count() == 0
    assert page.is_disabled("input[name=require_mfa_on_activation]")
    assert page.locator("text=it cannot be switched off").count() == 1
    visit(page, live, "/pim/wizard", axe_source)
    assert page.locator("input[type=checkbox]").count() == 0
    for path in ("/dashboard", "/roles", "/admin-roles", "/audit"):
        visit(page, live, path, axe_source)
    # The server refuses what the page does not offer, with or without a token.
    forged = page.request.post(
        f"{live.url}/roles/{ids.GLOBAL_ADMINISTRATOR}/members",
        form={"user": "sam@contoso.example", "member_type": "Eligible"},
    )
    assert forged.status == 403 and "did not come from this site" in forged.text()
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    refused = page.request.post(
        f"{live.url}/roles/{ids.GLOBAL_ADMINISTRATOR}/members",
        form={"user": "sam@contoso.example", "member_type": "Eligible", "csrf_token": token},
        headers={"Origin": live.url},
    )
    assert refused.status == 403
    assert "Only an active Privileged Role Administrator can change PIM." in refused.text()
    screenshot(page, "25-read-only-dashboard")
    assert code  # sign_in used it
    assert not errors, errors
    context.close()
