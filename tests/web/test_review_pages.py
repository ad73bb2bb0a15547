"""Access review pages: the list, the new-review form, a review's page with its administrator
actions, and Review access where reviewers decide (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from openpim.assignments.models import MemberType
from openpim.directory.models import Directory, User
from openpim.reviews import service as reviews
from openpim.reviews.models import AccessReview
from tests.alerts.helpers import grant, outbox_count, pim_setup
from tests.factories import GLOBAL_READER, SECURITY_READER, USER_ADMIN, Env
from tests.reviews.helpers import create, items, review_row
from tests.web.helpers import Browser, text_of


def _people(env: Env) -> tuple[Directory, User, User, User, User]:
    """A PIM directory (admin), a reviewer, and two User Administrators: ann signed in lately,
    bob not for months."""
    directory, admin = pim_setup(env)
    rita = env.user(directory, "rita", last_sign_in_at=env.now)
    ann = env.user(directory, "ann", last_sign_in_at=env.now - timedelta(days=3))
    bob = env.user(directory, "bob", last_sign_in_at=env.now - timedelta(days=200))
    grant(env, ann, USER_ADMIN)
    grant(env, bob, USER_ADMIN)
    return directory, admin, rita, ann, bob


def _review_count(env: Env) -> int:
    with env.runtime.db.reader() as s:
        return int(s.execute(select(func.count()).select_from(AccessReview)).scalar_one())


def _form(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Quarterly check",
        "description": "Who still needs it?",
        "role": [str(USER_ADMIN)],
        "ends": "after",
        "duration_days": "14",
        "reviewer_mode": "selected",
        "user": [],
        "scope": "both",
        "require_reason_on_approval": "1",
        "show_recommendations": "1",
        "default_decision": "no_change",
        "recurrence": "none",
        **changes,
    }


def test_a_pra_creates_one_review_per_role_and_refusals_create_nothing(
    env: Env, browser: Browser
) -> None:
    directory, admin, rita, _ann, _bob = _people(env)
    browser.sign_in(admin)
    form = text_of(browser.page("/reviews/new"))
    assert "Roles to review" in form and "User Administrator" in form
    assert "Members review themselves" in form and "Take the recommendations" in form

    too_long = browser.post("/reviews", _form(duration_days="400", user=[rita.user_principal_name]))
    assert too_long.status_code == 422
    assert "A review lasts from 1 to 365 days." in text_of(too_long.text)
    assert re.search(r'id="f-duration_days"[^>]*aria-invalid="true"', too_long.text)
    # The form keeps what was typed.
    assert 'value="Quarterly check"' in too_long.text
    assert f'value="{rita.user_principal_name}"' in too_long.text
    nobody = browser.post("/reviews", _form())
    assert nobody.status_code == 422 and "Name 1 to 100 reviewers" in text_of(nobody.text)
    unknown = browser.post("/reviews", _form(user=["ghost@nowhere.example"]))
    assert unknown.status_code == 422
    assert "There is no user named ghost@nowhere.example" in text_of(unknown.text)
    crowd = "\n".join(f"r{n}@nowhere.example" for n in range(101))
    too_many = browser.post("/reviews", _form(more_reviewers=crowd))
    assert too_many.status_code == 422 and "Name 1 to 100 reviewers" in text_of(too_many.text)
    no_role = browser.post("/reviews", _form(role=[], user=[rita.user_principal_name]))
    assert no_role.status_code == 422 and "Pick 1 to 50 roles" in text_of(no_role.text)
    assert _review_count(env) == 0

    two = browser.post(
        "/reviews",
        _form(
            role=[str(USER_ADMIN), str(SECURITY_READER)],
            user=[rita.user_principal_name.upper(), ""],
            more_reviewers=rita.user_principal_name,
        ),
    )
    assert two.status_code == 303, two.text[:800]
    assert two.headers["location"] == "/reviews?msg=created_many&n=2"
    listing = text_of(browser.page(two.headers["location"]))
    assert "2 access reviews are created, one per role." in listing
    assert "User Administrator" in listing and "Security Reader" in listing
    assert "0 of 2" in listing and "1 selected" in listing
    with env.ctx() as ctx:
        made = reviews.list_reviews(ctx, directory.id)
    assert sorted(p.role or "" for p in made) == ["Security Reader", "User Administrator"]
    assert all(p.reviewer_ids == [rita.id] for p in made)
    assert all(p.review.require_reason_on_approval for p in made)

    # Members review themselves: the reviewer boxes do not count. One role: to its page.
    own = browser.post(
        "/reviews",
        _form(
            reviewer_mode="self",
            user=[rita.user_principal_name],
            require_reason_on_approval="",
            show_recommendations="",
            default_decision="recommendation",
            auto_apply="1",
            ends="on",
            end_at=(env.now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
            end_at_offset="0",
            recurrence="monthly",
            scope="eligible",
        ),
    )
    assert own.status_code == 303, own.text[:800]
    location = own.headers["location"]
    assert location.startswith("/reviews/") and location.endswith("?msg=created")
    page = text_of(browser.page(location))
    assert "The access review is created." in page
    assert "Members review themselves" in page and "Take the recommendations" in page
    assert "Automatically at completion" in page and "Monthly (instance 1)" in page
    assert "Hidden from reviewers" in page and "Optional" in page
    assert "ann@" in page and "bob@" in page  # eligible members snapshotted at once
    assert _review_count(env) == 3


def test_readers_see_reviews_and_only_a_pra_changes_them(
    env: Env, browser: Browser, second_browser: Browser
) -> None:
    directory, _admin, rita, ann, _bob = _people(env)
    reader = env.user(directory, "gr")
    grant(env, reader, GLOBAL_READER, MemberType.ACTIVE)
    review = create(env, directory, reviewers=[rita])
    browser.sign_in(reader)
    listing = browser.page("/reviews")
    assert "Quarterly User Administrator review" in listing and "New review" not in listing
    assert "Only a Privileged Role Administrator can create" in text_of(listing)
    assert browser.get("/reviews/new").status_code == 403
    page = browser.page(f"/reviews/{review.id}")
    text = text_of(page)
    assert rita.user_principal_name in text and "0 of 2 members decided" in text
    # Readers see the recommendations with their evidence, and can export, not change.
    assert "no sign-in or activation in the last 30 days" in text
    assert f"/reviews/{review.id}/results.csv" in page
    assert "Remind reviewers" not in page and "Delete…" not in page
    for action in ("remind", "reset", "stop", "complete", "apply"):
        refused = browser.post(f"/reviews/{review.id}/{action}")
        assert refused.status_code == 403, action
        assert "Only an active Privileged Role Administrator can change PIM." in text_of(
            refused.text
        )
    assert browser.post(f"/reviews/{review.id}/delete").status_code == 403
    made = browser.post("/reviews", _form(user=[rita.user_principal_name]))
    assert made.status_code == 403
    # A forged post without the token is refused before anything else.
    forged = browser.post(f"/reviews/{review.id}/stop", csrf=False)
    assert forged.status_code == 403 and "did not come from this site" in text_of(forged.text)
    assert review_row(env, review.id).status == "InProgress"
    assert review_row(env, review.id).reminded_at is None
    assert outbox_count(env, "review.reminder") == 0
    assert _review_count(env) == 1

    # A member who neither reads PIM nor reviews sees nothing of it.
    second_browser.sign_in(ann)
    assert second_browser.get("/reviews").status_code == 403
    assert second_browser.get(f"/reviews/{review.id}").status_code == 403
    assert second_browser.get(f"/reviews/{review.id}/results.csv").status_code == 403
    assert second_browser.get(f"/my-reviews/{review.id}").status_code == 403
    assert "No access review is waiting for you." in text_of(second_browser.page("/my-reviews"))
    probe = second_browser.post("/reviews", _form(user=[rita.user_principal_name]))
    assert probe.status_code == 403
    assert "Only an active Privileged Role Administrator" in text_of(probe.text)
    assert _review_count(env) == 1


def test_a_reviewer_decides_and_a_concurrent_decision_is_explained(
    env: Env, browser: Browser, second_browser: Browser
) -> None:
    directory, _admin, rita, ann, bob = _people(env)
    sam = env.user(directory, "sam")
    review = create(env, directory, reviewers=[rita, sam])
    got = items(env, review.id)
    ann_item, bob_item = got["ann:Eligible"], got["bob:Eligible"]
    browser.sign_in(rita)
    mine = text_of(browser.page("/my-reviews"))
    assert "Quarterly User Administrator review" in mine and "2 members to decide" in mine
    page = browser.page(f"/my-reviews/{review.id}")
    text = text_of(page)
    assert "a reason is required to approve" in text
    assert "signed in " in text and "(3 days ago)" in text  # ann's evidence
    assert "no sign-in or activation in the last 30 days" in text  # bob's
    path = f"/my-reviews/{review.id}/items/{{}}"

    no_reason = browser.post(path.format(ann_item.id), {"decision": "Approve"})
    assert no_reason.status_code == 422
    assert "This review requires a reason for every approval." in text_of(no_reason.text)
    approved = browser.post(
        path.format(ann_item.id), {"decision": "Approve", "reason": "runs the help desk"}
    )
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/my-reviews/{review.id}?msg=decided"
    after = browser.page(approved.headers["location"])
    assert "Your decision is saved." in after and f'id="item-{ann_item.id}"' not in after

    # Sam opened the page before Rita decided on bob; his late decision is explained.
    second_browser.sign_in(sam)
    assert f'id="item-{bob_item.id}"' in second_browser.page(f"/my-reviews/{review.id}")
    denied = browser.post(
        path.format(bob_item.id),
        {"decision": "Deny", "reason": "left the team"},
        headers={"HX-Request": "true"},
    )
    assert denied.status_code == 200 and "Your decision is saved." in denied.text
    assert denied.headers["HX-Push-Url"] == f"/my-reviews/{review.id}"
    late = second_browser.post(path.format(bob_item.id), {"decision": "Approve", "reason": "no"})
    assert late.status_code == 409
    message = text_of(late.text)
    assert (
        f"{rita.user_principal_name} decided {bob.user_principal_name} first (Denied). "
        "Your decision was not saved" in message
    )
    assert f'id="item-{bob_item.id}" data-member="{bob.user_principal_name}" aria-current' in (
        late.text
    )
    assert items(env, review.id)["bob:Eligible"].decision == "Deny"
    # Changing a decision sends the version the page showed.
    version = re.search(
        rf'items/{bob_item.id}".*?name="expected_version" value="(\d+)"', late.text, re.S
    )
    assert version is not None
    changed = second_browser.post(
        path.format(bob_item.id),
        {"decision": "DontKnow", "expected_version": version.group(1), "view": "all"},
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == f"/my-reviews/{review.id}?view=all&msg=decided"
    assert items(env, review.id)["bob:Eligible"].decision == "DontKnow"
    # A version no item can have, one past what a 64-bit column holds, is refused as input.
    for impossible in (str(2**63), "9" * 30):
        beyond = second_browser.post(
            path.format(bob_item.id),
            {"decision": "Deny", "expected_version": impossible, "view": "all"},
        )
        assert beyond.status_code == 422, (impossible, beyond.status_code)
    assert items(env, review.id)["bob:Eligible"].decision == "DontKnow"

    # Forged (no token) or by someone who is not a reviewer: refused, nothing changes.
    forged = browser.post(path.format(bob_item.id), {"decision": "Deny"}, csrf=False)
    assert forged.status_code == 403
    browser.sign_in(env.user(directory, "otto"))
    refused = browser.post(path.format(bob_item.id), {"decision": "Deny", "reason": "x"})
    assert refused.status_code == 403
    assert items(env, review.id)["bob:Eligible"].decision == "DontKnow"
    del ann


def test_self_review_and_hidden_recommendations(env: Env, browser: Browser) -> None:
    directory, _admin, _rita, ann, bob = _people(env)
    review = create(env, directory, show_recommendations=False, require_reason_on_approval=False)
    browser.sign_in(ann)
    assert "1 member to decide" in text_of(browser.page("/my-reviews"))
    page = browser.page(f"/my-reviews/{review.id}")
    assert ann.user_principal_name in page and bob.user_principal_name not in page
    assert "Recommendation" not in page and "Last sign-in" not in page
    bob_item = items(env, review.id)["bob:Eligible"]
    refused = browser.post(f"/my-reviews/{review.id}/items/{bob_item.id}", {"decision": "Deny"})
    assert refused.status_code == 403 and "not a reviewer of this member" in text_of(refused.text)
    ann_item = items(env, review.id)["ann:Eligible"]
    done = browser.post(f"/my-reviews/{review.id}/items/{ann_item.id}", {"decision": "Approve"})
    assert done.status_code == 303
    assert "Nothing left to decide here." in browser.page(f"/my-reviews/{review.id}")
    # Past its end, the page says so and offers no decision.
    env.clock.advance(timedelta(days=8))
    browser.sign_in(ann)  # the session has ended meanwhile
    closed = browser.page(f"/my-reviews/{review.id}?view=all")
    assert "decisions can no longer be made" in text_of(closed)
    assert "Change the decision" not in closed


def test_administrator_actions_from_remind_to_apply_export_and_delete(
    env: Env, browser: Browser
) -> None:
    directory, admin, rita, ann, bob = _people(env)
    review = create(env, directory, reviewers=[rita])
    got = items(env, review.id)
    with env.ctx(rita) as ctx:
        reviews.decide(ctx, got["ann:Eligible"].id, "Approve", "on call")
        reviews.decide(ctx, got["bob:Eligible"].id, "Deny", "left the team")
    browser.sign_in(admin)
    page = browser.page(f"/reviews/{review.id}")
    for label in ("Remind reviewers", "Reset decisions…", "Stop early…", "Delete…"):
        assert label in page, label
    assert "Apply results…" not in page and "Complete…" not in page
    base = f"/reviews/{review.id}"

    # Apply before completion is refused on the page.
    early = browser.post(f"{base}/apply")
    assert early.status_code == 409
    assert "Nothing changes until the review completes" in text_of(early.text)
    reset = browser.post(f"{base}/reset")
    assert reset.headers["location"] == f"{base}?msg=reset&n=2"
    assert "2 decision(s) cleared" in text_of(browser.page(reset.headers["location"]))
    reminded = browser.post(f"{base}/remind")
    assert reminded.headers["location"] == f"{base}?msg=reminded&n=1"
    assert outbox_count(env, "review.reminder") == 1
    with env.ctx(rita) as ctx:
        reviews.decide(ctx, got["ann:Eligible"].id, "Approve", "on call")
        reviews.decide(ctx, got["bob:Eligible"].id, "Deny", "left the team")

    stopped = browser.post(f"{base}/stop")
    assert stopped.headers["location"] == f"{base}?msg=stopped"
    page = browser.page(stopped.headers["location"])
    assert "The review is stopped" in page and "Apply results…" in page
    assert "Stop early…" not in page and "Remind reviewers" not in page
    assert review_row(env, review.id).stopped_at == env.now
    applied = browser.post(f"{base}/apply")
    assert applied.headers["location"] == f"{base}?msg=applied&n=1"
    text = text_of(browser.page(applied.headers["location"]))
    assert "The review is applied: 1 member(s) removed." in text
    assert "Removed" in text and "Kept" in text
    role_page = text_of(browser.page(f"/roles/{USER_ADMIN}"))
    assert ann.user_principal_name in role_page and bob.user_principal_name not in role_page
    # Applying again removes nothing twice.
    again = browser.post(f"{base}/apply")
    assert again.headers["location"] == f"{base}?msg=applied&n=0"

    export = browser.get(f"{base}/results.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["member"].split("@")[0], r["decision"], r["applied_result"]) for r in rows] == [
        ("ann", "Approve", "kept"),
        ("bob", "Deny", "removed"),
    ]

    deleted = browser.post(f"{base}/delete")
    assert deleted.headers["location"] == "/reviews?msg=deleted"
    assert "The access review is deleted." in text_of(browser.page("/reviews?msg=deleted"))
    assert browser.get(base).status_code == 404
    assert _review_count(env) == 0


def test_a_review_past_its_end_is_completed_not_stopped(env: Env, browser: Browser) -> None:
    directory, admin, rita, _ann, _bob = _people(env)
    review = create(env, directory, reviewers=[rita], default_decision="recommendation")
    env.clock.advance(timedelta(days=7, minutes=1))
    browser.sign_in(admin)
    page = browser.page(f"/reviews/{review.id}")
    assert "Complete…" in page and "Stop early…" not in page
    done = browser.post(f"/reviews/{review.id}/complete")
    assert done.headers["location"] == f"/reviews/{review.id}?msg=completed"
    text = text_of(browser.page(done.headers["location"]))
    assert "The review is completed" in text and "(recommendation)" in text
    row = review_row(env, review.id)
    assert row.status == "Completed" and row.stopped_at is None
    # Completing twice is refused on the page, not an error page.
    twice = browser.post(f"/reviews/{review.id}/complete")
    assert twice.status_code == 409
    assert "Only a review in progress can be completed" in text_of(twice.text)
