"""Security alerts in the portal: the list, Scan now, an alert's page with its configuration,
incident, dismissal and fixes; who sees and may use what; forged posts."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

from openpim.alerts import service as alerts
from openpim.alerts.definitions import AlertType
from openpim.assignments.models import MemberType
from openpim.directory.models import Directory, User
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import get_role_settings, update_role_settings
from tests.alerts.helpers import audit_actions, grant, open_incident_of, pim_setup, scan
from tests.factories import (
    GA,
    HELPDESK_ADMIN,
    PASSWORD_ADMIN,
    SECURITY_READER,
    USER_ADMIN,
    Env,
)
from tests.web.helpers import Browser, text_of

OUTSIDE = AlertType.OUTSIDE_PIM.value
STALE = AlertType.STALE_ACCOUNTS.value
NO_MFA = AlertType.NO_MFA_ON_ACTIVATION.value
TOO_MANY_GA = AlertType.TOO_MANY_GLOBAL_ADMINS.value


def _text(page: str) -> str:
    return html.unescape(text_of(page))


def _follow(browser: Browser, response: object) -> str:
    assert response.status_code == 303, response.text[:800]  # type: ignore[attr-defined]
    return _text(browser.page(response.headers["location"]))  # type: ignore[attr-defined]


def _config(env: Env, directory: Directory, alert_type: str) -> tuple[bool, dict[str, int]]:
    with env.ctx() as ctx:
        view = alerts.get_alert(ctx, directory.id, alert_type)
        return view.enabled, view.thresholds


def _outside_row(env: Env, directory: Directory) -> tuple[User, uuid.UUID]:
    """Mallory made Global Administrator by a row written straight into the assignments table
    (the factory adds it without any PIM request), as an intruder or a sync would."""
    mallory = env.user(directory, "mallory", last_sign_in_at=env.now)
    return mallory, env.permanent(mallory, GA).id


def _reader(env: Env, directory: Directory) -> User:
    reader = env.user(directory, "sam", last_sign_in_at=env.now)
    grant(env, reader, SECURITY_READER, MemberType.ACTIVE)
    return reader


# --- the list and Scan now ----------------------------------------------------------------------


def test_the_list_is_honest_before_the_first_scan_and_scan_now_fills_it(
    env: Env, browser: Browser
) -> None:
    _directory, admin = pim_setup(env)
    browser.sign_in(admin)
    before = _text(browser.page("/alerts"))
    assert "No scan has run in this directory yet" in before
    assert before.count("Not scanned yet") == 7
    for name in (
        "Roles assigned outside PIM",
        "Too many Global Administrators",
        "Roles activated too frequently",
        "Roles don't require MFA for activation",
        "Administrators aren't using their privileged roles",
        "Potential stale accounts in a privileged role",
        "Fewer than two Privileged Role Administrators",
    ):
        assert name in before

    after = _follow(browser, browser.post("/alerts/scan"))
    assert "Scanned 7 alerts: 0 new incidents, 0 resolved." in after
    assert "No open incidents at the last scan" in after
    assert "Not scanned yet" not in after and not re.search(r"\bnever\b", after)


def test_scan_now_raises_the_outside_pim_incident_and_lists_who_and_what(
    env: Env, browser: Browser
) -> None:
    directory, admin = pim_setup(env)
    mallory, row_id = _outside_row(env, directory)
    browser.sign_in(admin)
    listed = _follow(browser, browser.post("/alerts/scan"))
    assert "Scanned 7 alerts: 1 new incident, 0 resolved." in listed
    assert "1 open incident." in listed and "1 affected" in listed

    page = browser.page(f"/alerts/{OUTSIDE}")
    text = _text(page)
    assert "Open incident" in text and "High severity" in text
    assert mallory.user_principal_name in text and "Global Administrator" in text
    assert "no PIM request made this assignment" in text
    assert f'name="items" value="{row_id}"' in page
    for label in ("Remove the selected assignments", "Make the selected assignments eligible"):
        assert label in text
    assert "Require MFA" not in text  # not a fix this alert offers
    assert "Dismiss incident" in text and "Save configuration" in text


def test_scanning_one_alert_from_the_list_and_a_switched_off_alert(
    env: Env, browser: Browser
) -> None:
    directory, admin = pim_setup(env)
    browser.sign_in(admin)
    one = _follow(browser, browser.post(f"/alerts/{STALE}/scan", {"back": "list"}))
    assert "Scanned 1 alert: 0 new incidents, 0 resolved." in one
    with env.ctx() as ctx:
        alerts.update_config(ctx, directory.id, STALE, enabled=False)
    off = _follow(browser, browser.post(f"/alerts/{STALE}/scan"))
    assert "Nothing was scanned: this alert is switched off." in off
    assert "This alert is switched off" in off
    assert browser.get("/alerts/no_such_alert").status_code == 404
    assert browser.post("/alerts/no_such_alert/scan").status_code == 404


# --- fixes --------------------------------------------------------------------------------------


def test_remove_the_assignment_resolves_the_incident_and_keeps_its_history(
    env: Env, browser: Browser
) -> None:
    directory, admin = pim_setup(env)
    mallory, row_id = _outside_row(env, directory)
    scan(env, directory, OUTSIDE)
    incident = open_incident_of(env, directory, OUTSIDE)
    assert incident is not None
    browser.sign_in(admin)
    browser.page(f"/alerts/{OUTSIDE}")
    done = _follow(
        browser,
        browser.post(
            f"/alerts/{OUTSIDE}/incidents/{incident.id}/fix",
            {"action": "remove_assignment", "items": [str(row_id)], "justification": "intruder"},
        ),
    )
    assert "Fixed 1 item. The incident is resolved." in done
    assert "No open incident" in done
    assert "Resolved (condition cleared)" in done
    assert open_incident_of(env, directory, OUTSIDE) is None
    (fixed,) = audit_actions(env, "alert.fixed")
    assert fixed.target_user_id == mallory.id and fixed.justification == "intruder"
    past = _text(browser.page(f"/alerts/{OUTSIDE}/incidents/{incident.id}"))
    assert mallory.user_principal_name in past and "Resolved (condition cleared)" in past
    assert browser.get(f"/alerts/{STALE}/incidents/{incident.id}").status_code == 404


def test_make_eligible_converts_the_permanent_row(env: Env, browser: Browser) -> None:
    directory, admin = pim_setup(env)
    mallory, row_id = _outside_row(env, directory)
    scan(env, directory, OUTSIDE)
    incident = open_incident_of(env, directory, OUTSIDE)
    assert incident is not None
    browser.sign_in(admin)
    browser.page(f"/alerts/{OUTSIDE}")
    done = _follow(
        browser,
        browser.post(
            f"/alerts/{OUTSIDE}/incidents/{incident.id}/fix",
            {"action": "make_eligible", "items": [str(row_id)]},
        ),
    )
    assert "The incident is resolved." in done
    role = _text(browser.page(f"/roles/{GA}"))
    eligible = role.split("Eligible members")[1].split("Active members")[0]
    assert mallory.user_principal_name in eligible


def test_require_mfa_fixes_one_role_at_a_time(env: Env, browser: Browser) -> None:
    directory, admin = pim_setup(env)
    with env.ctx() as ctx:
        for role in (PASSWORD_ADMIN, HELPDESK_ADMIN):
            update_role_settings(
                ctx, directory.id, role, RoleSettingsUpdate(require_mfa_on_activation=False)
            )
    scan(env, directory, NO_MFA)
    incident = open_incident_of(env, directory, NO_MFA)
    assert incident is not None
    browser.sign_in(admin)
    page = browser.page(f"/alerts/{NO_MFA}")
    assert "Password Administrator" in page and "Helpdesk Administrator" in page
    path = f"/alerts/{NO_MFA}/incidents/{incident.id}/fix"
    first = _follow(
        browser, browser.post(path, {"action": "require_mfa", "items": [str(PASSWORD_ADMIN)]})
    )
    assert "Fixed 1 item. 1 still affected." in first
    with env.ctx() as ctx:
        assert get_role_settings(ctx, directory.id, PASSWORD_ADMIN).require_mfa_on_activation
    second = _follow(
        browser, browser.post(path, {"action": "require_mfa", "items": [str(HELPDESK_ADMIN)]})
    )
    assert "The incident is resolved." in second


def test_a_refused_fix_shows_the_service_message_and_changes_nothing(
    env: Env, browser: Browser
) -> None:
    directory, admin = pim_setup(env)
    for _ in range(3):
        grant(env, env.user(directory, last_sign_in_at=env.now), HELPDESK_ADMIN)
    with env.ctx() as ctx:
        alerts.update_config(
            ctx, directory.id, TOO_MANY_GA,
            thresholds={"global_admin_count": 2, "global_admin_percent": 0},
        )  # fmt: skip
    for n in range(2):
        grant(env, env.user(directory, f"ga{n}", last_sign_in_at=env.now), GA)
    scan(env, directory, TOO_MANY_GA)
    incident = open_incident_of(env, directory, TOO_MANY_GA)
    assert incident is not None
    browser.sign_in(admin)
    browser.page(f"/alerts/{TOO_MANY_GA}")
    path = f"/alerts/{TOO_MANY_GA}/incidents/{incident.id}/fix"
    key = f"{admin.id}:{GA}:Active"
    refused = browser.post(path, {"action": "make_eligible", "items": [key]})
    assert refused.status_code == 409
    text = _text(refused.text)
    assert "this would leave the directory without an active Global Administrator" in text
    assert re.search(rf'value="{re.escape(key)}" [^>]*checked', refused.text)  # kept selected
    assert audit_actions(env, "alert.fixed") == []
    nothing = browser.post(path, {"action": "make_eligible"})
    assert nothing.status_code == 422
    assert "Name 1 to 100 affected items to fix." in _text(nothing.text)
    still = open_incident_of(env, directory, TOO_MANY_GA)
    assert still is not None and still.affected_count == incident.affected_count


# --- dismissal ----------------------------------------------------------------------------------


def test_dismissal_needs_a_reason_and_then_shows_in_the_history(env: Env, browser: Browser) -> None:
    directory, admin = pim_setup(env)
    stale = env.user(directory, "olaf", last_sign_in_at=env.now - timedelta(days=120))
    grant(env, stale, USER_ADMIN)
    scan(env, directory, STALE)
    incident = open_incident_of(env, directory, STALE)
    assert incident is not None
    browser.sign_in(admin)
    page = browser.page(f"/alerts/{STALE}")
    assert stale.user_principal_name in page and "User Administrator" in page
    path = f"/alerts/{STALE}/incidents/{incident.id}/dismiss"
    empty = browser.post(path, {"reason": "   "})
    assert empty.status_code == 422
    assert "A dismissal needs a reason of 1 to 500 characters." in _text(empty.text)
    assert 'id="f-reason"' in empty.text and 'aria-invalid="true"' in empty.text
    assert open_incident_of(env, directory, STALE) is not None

    done = _follow(browser, browser.post(path, {"reason": "Olaf is on parental leave"}))
    assert "The incident is dismissed." in done
    assert "No open incident. What the last scan found is covered by the dismissal" in done
    assert "Dismissed" in done and "Olaf is on parental leave" in done
    listed = _follow(browser, browser.post("/alerts/scan"))
    assert "1 dismissed incident still covers what it found." in listed
    assert "None open: dismissed" in listed
    assert open_incident_of(env, directory, STALE) is None
    again = browser.post(path, {"reason": "twice"})
    assert again.status_code == 409 and "this one is dismissed" in _text(again.text)


# --- configuration ------------------------------------------------------------------------------


def test_configuration_shows_bounds_refuses_out_of_bounds_and_saves(
    env: Env, browser: Browser
) -> None:
    directory, admin = pim_setup(env)
    browser.sign_in(admin)
    page = browser.page(f"/alerts/{STALE}")
    assert 'name="t_days"' in page and 'min="1" max="365"' in page
    assert "Between 1 and 365; default 90." in _text(page)
    path = f"/alerts/{STALE}/config"

    for bad, message in (
        ("0", "days must be between 1 and 365, got 0."),
        ("366", "days must be between 1 and 365, got 366."),
        ("ninety", "days must be a whole number."),
        ("", "days must be a whole number."),
    ):
        refused = browser.post(path, {"enabled": "1", "t_days": bad})
        assert refused.status_code == 422, bad
        assert message in _text(refused.text)
        assert re.search(r'id="f-t-days"[^>]*value="' + re.escape(bad) + '"', refused.text)
        assert 'aria-invalid="true"' in refused.text
        assert _config(env, directory, STALE) == (True, {"days": 90})
    assert audit_actions(env, "alert.config_updated") == []

    saved = _follow(browser, browser.post(path, {"enabled": "1", "t_days": "365"}))
    assert "The alert's configuration is saved." in saved
    assert _config(env, directory, STALE) == (True, {"days": 365})
    _follow(browser, browser.post(path, {"t_days": "365"}))  # the box unticked: switched off
    assert _config(env, directory, STALE) == (False, {"days": 365})
    assert len(audit_actions(env, "alert.config_updated")) == 2
    off = _text(browser.page("/alerts"))
    assert "Switched off" in off

    two = f"/alerts/{TOO_MANY_GA}/config"
    refused = browser.post(two, {"enabled": "1", "t_global_admin_count": "1",
                                 "t_global_admin_percent": "10"})  # fmt: skip
    assert "global_admin_count must be between 2 and 100, got 1." in _text(refused.text)
    assert _config(env, directory, TOO_MANY_GA) == (True, {"global_admin_count": 3,
                                                           "global_admin_percent": 10})  # fmt: skip


# --- who sees and may use what ------------------------------------------------------------------


def test_a_reader_reads_and_scans_but_sees_no_changes_and_the_server_refuses_them(
    env: Env, browser: Browser
) -> None:
    directory, _admin = pim_setup(env)
    _outside_row(env, directory)
    reader = _reader(env, directory)
    scan(env, directory, OUTSIDE)
    incident = open_incident_of(env, directory, OUTSIDE)
    assert incident is not None
    browser.sign_in(reader)
    listed = _text(browser.page("/alerts"))
    assert "Scan now" in listed and "You can read alerts and scan now" in listed
    page = browser.page(f"/alerts/{OUTSIDE}")
    text = _text(page)
    assert "mallory" in text and "Read-only" in text
    for hidden in ("Save configuration", "Dismiss incident", "Remove the selected", 'name="items"'):
        assert hidden not in page, hidden
    assert re.search(r'name="enabled"[^>]*disabled', page)

    base = f"/alerts/{OUTSIDE}/incidents/{incident.id}"
    for path, data in (
        (f"/alerts/{STALE}/config", {"enabled": "", "t_days": "5"}),
        (f"{base}/dismiss", {"reason": "not my problem"}),
        (f"{base}/fix", {"action": "remove_assignment", "items": ["x"]}),
    ):
        forged = browser.post(path, data)
        assert forged.status_code == 403, path
        assert "Only an active Privileged Role Administrator can change PIM." in _text(forged.text)
    assert _config(env, directory, STALE) == (True, {"days": 90})
    still = open_incident_of(env, directory, OUTSIDE)
    assert still is not None and still.status == "open"
    scanned = browser.post(f"/alerts/{OUTSIDE}/scan")
    assert scanned.status_code == 303


def test_posts_without_a_token_are_refused_even_for_the_administrator(
    env: Env, browser: Browser
) -> None:
    directory, admin = pim_setup(env)
    _outside_row(env, directory)
    scan(env, directory, OUTSIDE)
    incident = open_incident_of(env, directory, OUTSIDE)
    assert incident is not None
    browser.sign_in(admin)
    base = f"/alerts/{OUTSIDE}/incidents/{incident.id}"
    for path, data in (
        ("/alerts/scan", {}),
        (f"/alerts/{STALE}/config", {"t_days": "5"}),
        (f"{base}/dismiss", {"reason": "forged"}),
    ):
        response = browser.post(path, data, csrf=False)
        assert response.status_code == 403, path
        assert "did not come from this site" in _text(response.text)
    assert _config(env, directory, STALE) == (True, {"days": 90})
    assert open_incident_of(env, directory, OUTSIDE) is not None
    assert audit_actions(env, "alert.dismissed") == []


def test_someone_without_a_reader_role_is_refused(env: Env, browser: Browser) -> None:
    directory, _ = pim_setup(env)
    bob = env.user(directory, "bob")
    browser.sign_in(bob)
    assert browser.get("/alerts").status_code == 403
    assert browser.get(f"/alerts/{OUTSIDE}").status_code == 403
    refused = browser.post("/alerts/scan")
    assert refused.status_code == 403
    assert "Reading other users' PIM data needs" in _text(refused.text)
