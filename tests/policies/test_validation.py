"""The bounds validator against a naive oracle, and the API shapes of role settings."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openpim.kit.errors import ValidationFailed
from openpim.policies.notification_rules import NotificationRules
from openpim.policies.schemas import RoleSettingsOut, RoleSettingsUpdate
from openpim.policies.settings import RoleSettings
from openpim.policies.validation import validate_changes

BOOL_FIELDS = (
    "require_mfa_on_activation",
    "require_justification_on_activation",
    "require_ticket_on_activation",
    "require_approval_on_activation",
    "notify_default_recipients",
    "eligible_allow_permanent",
    "active_allow_permanent",
    "require_mfa_on_active_assignment",
    "require_justification_on_active_assignment",
)

durations = st.timedeltas(
    min_value=timedelta(days=-2), max_value=timedelta(days=3)
) | st.sampled_from(
    [
        timedelta(minutes=30),
        timedelta(hours=24),
        timedelta(minutes=30) - timedelta(seconds=1),
        timedelta(hours=24, seconds=1),
        timedelta(minutes=30, microseconds=1),
    ]
)
days = st.integers(min_value=-10_000, max_value=10_000) | st.sampled_from([0, 1, 3650, 3651])


def oracle_bad_fields(changes: dict[str, Any], locked: bool) -> set[str]:
    """Which fields a correct validator must refuse, written as plainly as possible."""
    bad = set()
    if "activation_max_duration" in changes:
        d = changes["activation_max_duration"]
        seconds = d.total_seconds()
        if d.microseconds != 0 or seconds < 30 * 60 or seconds > 24 * 3600:
            bad.add("activation_max_duration")
    for field in ("eligible_max_days", "active_max_days"):
        if field in changes and not 1 <= changes[field] <= 3650:
            bad.add(field)
    if locked and changes.get("require_mfa_on_activation") is False:
        bad.add("require_mfa_on_activation")
    return bad


@given(
    changes=st.fixed_dictionaries(
        {},
        optional={
            "activation_max_duration": durations,
            "eligible_max_days": days,
            "active_max_days": days,
            **{field: st.booleans() for field in BOOL_FIELDS},
        },
    ),
    locked=st.booleans(),
)
def test_bounds_validator_agrees_with_the_oracle(changes: dict[str, Any], locked: bool) -> None:
    bad = oracle_bad_fields(changes, locked)
    if not bad:
        assert validate_changes(changes, mfa_locked=locked) == changes
        return
    with pytest.raises(ValidationFailed) as failure:
        validate_changes(changes, mfa_locked=locked)
    # Fields are checked in name order, so the first bad one is the one reported.
    assert failure.value.field == min(bad)
    expected = (
        "mfa_locked"
        if failure.value.field == "require_mfa_on_activation"
        else ("setting_out_of_bounds")
    )
    assert failure.value.code == expected


# The first draw loads the list of top-level domains, which can trip the speed check.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.emails())
def test_every_valid_email_address_is_accepted(address: str) -> None:
    out = validate_changes({"notify_extra_recipients": [address, address]}, mfa_locked=False)
    [stored] = out["notify_extra_recipients"]
    assert stored.casefold() == address.casefold()


@given(st.text(alphabet=st.characters(blacklist_characters="@"), max_size=40))
def test_text_without_an_at_sign_is_never_an_email_address(text: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        validate_changes({"notify_extra_recipients": [text]}, mfa_locked=False)
    assert failure.value.code == "invalid_email"


@given(st.lists(st.uuids(), max_size=120))
def test_approvers_are_deduplicated_and_capped_at_100(ids: list[uuid.UUID]) -> None:
    unique = list(dict.fromkeys(ids))
    if len(unique) > 100:
        with pytest.raises(ValidationFailed) as failure:
            validate_changes({"approver_ids": ids}, mfa_locked=False)
        assert failure.value.code == "setting_out_of_bounds"
    else:
        assert validate_changes({"approver_ids": ids}, mfa_locked=False) == {
            "approver_ids": tuple(unique)
        }


def test_unknown_settings_and_wrong_types_are_refused_by_the_validator() -> None:
    with pytest.raises(ValidationFailed) as unknown:
        validate_changes({"mfa_locked": False}, mfa_locked=True)
    assert unknown.value.code == "unknown_setting"
    with pytest.raises(ValidationFailed):
        validate_changes({"eligible_max_days": True}, mfa_locked=False)
    with pytest.raises(ValidationFailed):
        validate_changes({"require_ticket_on_activation": "yes"}, mfa_locked=False)


# --- schemas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("pt90m", timedelta(minutes=90)),
        ("P1D", timedelta(days=1)),
        ("PT1M", timedelta(minutes=1)),
        ("-PT1H", timedelta(hours=-1)),
    ],
)
def test_update_accepts_iso_8601_durations(text: str, expected: timedelta) -> None:
    assert (
        RoleSettingsUpdate.model_validate({"activation_max_duration": text}).activation_max_duration
        == expected
    )


@pytest.mark.parametrize("value", [3600, 1.5, "3600", "4 hours", "01:00:00", "P1Y", "P1M", ""])
def test_update_refuses_durations_that_are_not_fixed_iso_8601(value: object) -> None:
    with pytest.raises(ValidationError):
        RoleSettingsUpdate.model_validate({"activation_max_duration": value})


def test_update_refuses_unknown_fields_and_loose_numbers() -> None:
    with pytest.raises(ValidationError):
        RoleSettingsUpdate.model_validate({"mfa_locked": False})
    with pytest.raises(ValidationError):
        RoleSettingsUpdate.model_validate({"eligible_max_days": True})
    with pytest.raises(ValidationError):
        RoleSettingsUpdate.model_validate({"eligible_max_days": "30"})


def test_update_reports_only_the_fields_given() -> None:
    update = RoleSettingsUpdate.model_validate(
        {"eligible_max_days": 30, "active_max_days": None, "approver_ids": []}
    )
    assert update.changes() == {"eligible_max_days": 30, "approver_ids": []}
    assert RoleSettingsUpdate().changes() == {}


def test_settings_out_renders_iso_durations_and_lists() -> None:
    approver = uuid.uuid4()
    settings = RoleSettings(
        role_id=uuid.uuid4(),
        directory_id=uuid.uuid4(),
        activation_max_duration=timedelta(hours=1, minutes=30),
        approver_ids=(approver,),
        notification_rules=NotificationRules.from_legacy(True, ["secops@example.com"]),
    )
    out = RoleSettingsOut.from_settings(settings).model_dump(mode="json")
    assert out["activation_max_duration"] == "PT1H30M"
    assert out["approver_ids"] == [str(approver)]
    assert out["notify_extra_recipients"] == ["secops@example.com"]
    assert out["notification_rules"]["activation"]["admin"] == {
        "default_recipients": True,
        "extra_recipients": ["secops@example.com"],
        "level": "All",
    }
    assert out["notification_rules"]["eligible_assignment"]["requestor"]["level"] == "All"
    assert out["is_default"] is True and out["mfa_locked"] is False
    assert (
        RoleSettingsOut.from_settings(
            RoleSettings(role_id=approver, directory_id=approver)
        ).activation_max_duration
        == "PT8H"
    )
