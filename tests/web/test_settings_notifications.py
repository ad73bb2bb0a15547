"""The role settings page's Notification group: Entra's three tables of notification rules."""

from __future__ import annotations

import re
from typing import Any

from openpim.policies.notification_rules import (
    RULE_KEYS,
    Level,
    NotificationRule,
    RecipientType,
    Stage,
)
from openpim.policies.service import read_role_settings
from openpim.policies.settings import RoleSettings
from openpim.roles import ids
from tests.factories import PASSWORD_ADMIN, Env
from tests.web.helpers import Browser, text_of

PATH = f"/roles/{PASSWORD_ADMIN}/settings"


def _read(env: Env, directory_id: Any) -> RoleSettings:
    with env.runtime.db.reader() as s:
        return read_role_settings(s, directory_id, PASSWORD_ADMIN)


def _form(rules: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The whole form as a browser sends it: the other settings as they are, every rule at its
    default (checkbox ticked, no addresses, all emails) unless `rules` says otherwise."""
    data: dict[str, Any] = {
        "activation_max_hours": "8",
        "eligible_max_days": "365",
        "active_max_days": "180",
        "require_mfa_on_activation": "1",
        "require_justification_on_activation": "1",
        "eligible_allow_permanent": "1",
        "active_allow_permanent": "1",
        "require_justification_on_active_assignment": "1",
    }
    for stage, recipient in RULE_KEYS:
        prefix = f"n-{stage.value}-{recipient.value}"
        row = {"default": True, "extra": "", "level": "All", **(rules or {}).get(prefix, {})}
        if row["default"]:
            data[f"{prefix}-default"] = "1"
        data[f"{prefix}-extra"] = row["extra"]
        data[f"{prefix}-level"] = row["level"]
    return data


def _selected(html: str, name: str) -> str:
    select = re.search(rf'<select id="{name}".*?</select>', html, flags=re.S)
    assert select, name
    chosen = re.search(r'<option value="(\w+)" selected', select.group(0))
    assert chosen, name
    return chosen.group(1)


def test_the_page_shows_entras_three_tables_with_the_defaults(env: Env, browser: Browser) -> None:
    _directory, admin = env.pim_directory()
    browser.sign_in(admin)
    page = browser.page(PATH)
    text = text_of(page)
    for title in (
        "Send notifications when members are assigned as eligible",
        "Send notifications when members are assigned as active",
        "Send notifications when eligible members activate this role",
        "Role assignment alert",
        "Notification to the assigned user",
        "Role activation alert",
        "Notification to the activated user",
        "Request to approve an activation",
    ):
        assert title in text, title
    assert page.count("<table>") >= 3
    assert len(re.findall(r'name="n-[a-z_]+-[a-z]+-default" value="1" checked', page)) == 9
    assert _selected(page, "n-activation-admin-level") == "All"
    assert "Critical emails only" in page and "No emails" in page


def test_saving_the_form_sets_the_nine_rules(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    browser.sign_in(admin)
    browser.page(PATH)
    saved = browser.post(
        PATH,
        _form(
            {
                "n-activation-admin": {
                    "default": False,
                    "extra": "soc@contoso.example\nLead@Contoso.example",
                    "level": "Critical",
                },
                "n-eligible_assignment-requestor": {"level": "None"},
                "n-active_assignment-approver": {"extra": "cab@contoso.example"},
            }
        ),
    )
    assert saved.status_code == 303, text_of(saved.text)[:600]
    rules = _read(env, directory.id).notification_rules
    assert rules.get(Stage.ACTIVATION, RecipientType.ADMIN) == NotificationRule(
        False, ("soc@contoso.example", "Lead@contoso.example"), Level.CRITICAL
    )
    assert rules.get(Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR).level == Level.NONE
    assert rules.get(Stage.ACTIVE_ASSIGNMENT, RecipientType.APPROVER).extra_recipients == (
        "cab@contoso.example",
    )
    untouched = {
        (Stage.ACTIVATION, RecipientType.ADMIN),
        (Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR),
        (Stage.ACTIVE_ASSIGNMENT, RecipientType.APPROVER),
    }
    assert all(r == NotificationRule() for k, r in rules.items() if k not in untouched)

    shown = browser.page(PATH)
    assert _selected(shown, "n-activation-admin-level") == "Critical"
    assert _selected(shown, "n-eligible_assignment-requestor-level") == "None"
    assert "soc@contoso.example\nLead@contoso.example</textarea>" in shown
    assert 'name="n-activation-admin-default" value="1" checked' not in shown


def test_a_bad_address_is_shown_on_its_row_and_nothing_is_saved(env: Env, browser: Browser) -> None:
    directory, admin = env.pim_directory()
    browser.sign_in(admin)
    browser.page(PATH)
    refused = browser.post(
        PATH,
        _form(
            {
                "n-activation-requestor": {"extra": "kept@contoso.example"},
                "n-active_assignment-admin": {"extra": "not an address"},
            }
        ),
    )
    assert refused.status_code == 422
    assert "not an address&#39; is not an email address." in refused.text
    cell = re.search(
        r'<td class="field invalid">\s*<label for="n-active_assignment-admin-extra"', refused.text
    )
    assert cell, "the row with the bad address is marked"
    assert 'id="n-active_assignment-admin-extra" name="n-active_assignment-admin-extra"' in (
        refused.text
    )
    assert "kept@contoso.example</textarea>" in refused.text  # what was typed is not lost
    assert _read(env, directory.id).is_default
    unknown = browser.post(PATH, _form({"n-activation-approver": {"level": "Sometimes"}}))
    assert unknown.status_code == 422 and "All, Critical or None" in text_of(unknown.text)


def test_readers_see_the_rules_but_cannot_change_them(env: Env, browser: Browser) -> None:
    directory, _admin = env.pim_directory()
    reader = env.user(directory, "reader")
    env.permanent(reader, ids.SECURITY_READER)
    browser.sign_in(reader)
    page = browser.page(PATH)
    assert "Role activation alert" in text_of(page)
    assert re.search(r'<select id="n-activation-admin-level"[^>]*disabled', page)
    assert "Save settings" not in page
    refused = browser.post(PATH, _form({"n-activation-admin": {"level": "None"}}))
    assert refused.status_code == 403
    assert _read(env, directory.id).is_default
