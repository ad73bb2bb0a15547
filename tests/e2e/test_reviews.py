"""Access reviews in a real browser: a reviewer decides on Review access; an administrator
completes and applies the review, and the denied member is gone from the role."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from openpim.assignments.models import MemberType
from openpim.directory import service as directory_service
from openpim.kit.context import Actor, ActorKind
from openpim.reviews import service as reviews
from openpim.reviews.rules import ReviewSpec
from openpim.roles import ids
from tests.e2e.conftest import LiveServer, check_accessibility, console_errors, screenshot
from tests.e2e.helpers import (
    PASSWORD,
    assign,
    enable_pim_as,
    fits_narrow_screen,
    operator_user,
    sign_in,
    visit,
)

REVIEW = "Quarterly User Administrator review"


def _review(live: LiveServer) -> dict[str, Any]:
    """Ada (PRA) asks Rita to review the two User Administrators, Mia and Max."""
    with live.runtime.unit(Actor.operator("e2e")) as ctx:
        directory, ada, ada_secret = directory_service.bootstrap(
            ctx, "Contoso", "contoso.example", "ada@contoso.example", "Ada Admin", PASSWORD
        )
        directory_id, ada_id = directory.id, ada.id
    enable_pim_as(live, directory_id, ada_id, "ada@contoso.example")
    rita_id, rita_secret = operator_user(live, directory_id, "rita@contoso.example", "Rita")
    members = {}
    for name in ("mia", "max"):
        user_id, _secret = operator_user(live, directory_id, f"{name}@contoso.example", name)
        assign(live, directory_id, user_id, ids.USER_ADMINISTRATOR, MemberType.ELIGIBLE)
        members[name] = user_id
    ada_actor = Actor(
        kind=ActorKind.USER,
        label="ada@contoso.example",
        user_id=ada_id,
        directory_id=directory_id,
    )
    with live.runtime.unit(ada_actor) as ctx:
        (review,) = reviews.create_reviews(
            ctx,
            directory_id,
            ReviewSpec(
                name=REVIEW,
                description="Who still needs to manage users?",
                role_ids=[ids.USER_ADMINISTRATOR],
                reviewer_ids=[rita_id],
                duration=timedelta(days=14),
            ),
        )
        review_id = review.id
    return {
        "directory": directory_id,
        "review": review_id,
        "ada_secret": ada_secret,
        "rita": rita_id,
        "rita_secret": rita_secret,
        "members": members,
    }


def _decisions(live: LiveServer, review_id: uuid.UUID) -> dict[str, str]:
    with live.runtime.read(Actor.operator("e2e")) as ctx:
        found, _show = reviews.list_items(ctx, review_id)
        return {i.principal_label.split("@")[0]: i.decision for i in found}


def test_a_reviewer_approves_one_member_and_denies_another(
    chromium: Any, live: LiveServer, axe_source: str
) -> None:
    setup = _review(live)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live, "rita@contoso.example", setup["rita_secret"])
    visit(page, live, "/my-reviews", axe_source, "50-review-access")
    card = page.locator(f"#my-reviews li[data-review='{REVIEW}']")
    assert "2 members to decide" in card.inner_text()
    fits_narrow_screen(page)
    card.locator("a.button").click()
    page.wait_for_url(f"**/my-reviews/{setup['review']}")
    check_accessibility(page, axe_source, "review: to decide")
    screenshot(page, "51-review-to-decide")
    mia = page.locator("#review-items li[data-member='mia@contoso.example']")
    assert "Recommendation" in mia.inner_text() and "Last sign-in" in mia.inner_text()

    # Approving needs a reason here: the refusal is shown, then the approval goes through.
    mia.locator("button:has-text('Approve')").click()
    page.wait_for_selector("text=This review requires a reason for every approval.")
    check_accessibility(page, axe_source, "review: reason required")
    mia = page.locator("#review-items li[data-member='mia@contoso.example']")
    mia.locator("textarea").fill("Runs the help desk this quarter")
    mia.locator("button:has-text('Approve')").click()
    page.wait_for_selector("text=Your decision is saved.")
    assert page.locator("#review-items li[data-member='mia@contoso.example']").count() == 0
    assert page.url.endswith(f"/my-reviews/{setup['review']}")

    max_ = page.locator("#review-items li[data-member='max@contoso.example']")
    max_.locator("textarea").fill("Moved to the finance team")
    max_.locator("button:has-text('Deny')").click()
    page.wait_for_selector("text=Nothing left to decide here.")
    check_accessibility(page, axe_source, "review: all decided")

    page.click("a:has-text('All members')")
    page.wait_for_url("**view=all")
    check_accessibility(page, axe_source, "review: all members")
    screenshot(page, "52-review-decided")
    decided = page.locator("#review-items li[data-member='max@contoso.example'] .decision")
    assert "Denied by rita@contoso.example" in decided.inner_text()
    assert "Moved to the finance team" in decided.inner_text()
    fits_narrow_screen(page)
    assert _decisions(live, setup["review"]) == {"max": "Deny", "mia": "Approve"}
    assert not errors, errors
    context.close()


def test_an_administrator_completes_and_applies_a_review(
    chromium: Any, live: LiveServer, axe_source: str
) -> None:
    setup = _review(live)
    rita = Actor(
        kind=ActorKind.USER,
        label="rita@contoso.example",
        user_id=setup["rita"],
        directory_id=setup["directory"],
    )
    with live.runtime.unit(rita) as ctx:
        found, _show = reviews.list_items(ctx, setup["review"])
        by_name = {i.principal_label.split("@")[0]: i.id for i in found}
        reviews.decide(ctx, by_name["mia"], "Approve", "Runs the help desk")
        reviews.decide(ctx, by_name["max"], "Deny", "Moved to the finance team")
    # The review's end has passed; the worker is not running, so the administrator completes it.
    live.clock.advance(timedelta(days=14, minutes=1))

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live, "ada@contoso.example", setup["ada_secret"])
    visit(page, live, "/reviews", axe_source, "53-access-reviews")
    row = page.locator(f"#reviews tr[data-review='{REVIEW}']")
    assert "2 of 2" in row.inner_text() and "In progress" in row.inner_text()
    row.locator("a").click()
    page.wait_for_url(f"**/reviews/{setup['review']}")
    check_accessibility(page, axe_source, "review details")
    screenshot(page, "54-review-details")
    assert page.locator("summary:has-text('Stop early')").count() == 0

    page.click("summary:has-text('Complete…')")
    check_accessibility(page, axe_source, "review: confirm completion")
    page.click("button:has-text('Complete the review')")
    page.wait_for_selector("text=The review is completed: its outcomes are fixed.")
    page.click("summary:has-text('Apply results…')")
    page.click("button:has-text('Remove the denied members')")
    page.wait_for_selector("text=The review is applied: 1 member(s) removed.")
    check_accessibility(page, axe_source, "review applied")
    screenshot(page, "55-review-applied")
    max_row = page.locator("#items tr[data-member='max@contoso.example']")
    assert "Removed" in max_row.inner_text()
    assert "Kept" in page.locator("#items tr[data-member='mia@contoso.example']").inner_text()
    fits_narrow_screen(page)

    visit(page, live, f"/roles/{ids.USER_ADMINISTRATOR}", axe_source, "56-role-after-review")
    members = page.locator("main").inner_text()
    assert "mia@contoso.example" in members and "max@contoso.example" not in members

    # A new review from the form, the reviewer found with the type-ahead.
    visit(page, live, "/reviews/new", axe_source, "57-new-review")
    fits_narrow_screen(page)
    page.fill("#f-name", "Security Reader check")
    page.check(f"input[name=role][value='{ids.SECURITY_READER}']")
    page.locator("#f-reviewer-1").press_sequentially("rit")
    page.wait_for_selector(
        "#reviewer-options option[value='rita@contoso.example']", state="attached"
    )
    page.fill("#f-reviewer-1", "rita@contoso.example")
    page.fill("#f-duration_days", "7")
    page.click("button:has-text('Create review')")
    page.wait_for_selector("text=The access review is created.")
    assert "rita@contoso.example" in page.locator("main").inner_text()
    check_accessibility(page, axe_source, "new review created")
    assert not errors, errors
    context.close()
