"""GET/PATCH /roles/{id}/settings carry the nine notification rules; the old fields still work."""

from __future__ import annotations

from tests.api.helpers import Api, assert_problem
from tests.factories import PASSWORD_ADMIN

PATH = f"/roles/{PASSWORD_ADMIN}/settings"


def test_the_rules_are_read_and_changed_through_the_role_settings(api: Api) -> None:
    _directory, admin = api.env.pim_directory()
    token = api.token(admin)
    shown = api.get(token, PATH).json()
    assert shown["notification_rules"]["eligible_assignment"]["admin"] == {
        "default_recipients": True,
        "extra_recipients": [],
        "level": "All",
    }
    changed = api.patch(
        token,
        PATH,
        {
            "notification_rules": {
                "active_assignment": {
                    "requestor": {"level": "critical", "extra_recipients": ["HR@Contoso.example"]}
                },
                "activation": {"admin": {"default_recipients": False}},
            }
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["notification_rules"]["active_assignment"]["requestor"] == {
        "default_recipients": True,
        "extra_recipients": ["HR@contoso.example"],
        "level": "Critical",
    }
    # The old pair is the activation admin rule, both ways.
    assert body["notify_default_recipients"] is False
    old = api.patch(token, PATH, {"notify_extra_recipients": ["soc@contoso.example"]}).json()
    assert old["notification_rules"]["activation"]["admin"]["extra_recipients"] == [
        "soc@contoso.example"
    ]
    assert api.get(token, PATH).json()["notification_rules"] == old["notification_rules"]
    listed = api.get(token, "/role-settings").json()["value"]
    (mine,) = [s for s in listed if s["role_id"] == str(PASSWORD_ADMIN)]
    assert mine["notification_rules"] == old["notification_rules"]


def test_bad_rules_are_problems_naming_the_field(api: Api) -> None:
    directory, admin = api.env.pim_directory()
    token = api.token(admin)
    bad_level = api.patch(
        token, PATH, {"notification_rules": {"activation": {"approver": {"level": "Often"}}}}
    )
    problem = assert_problem(bad_level, 422, "invalid_level")
    assert problem["field"] == "notification_rules.activation.approver.level"
    bad_address = api.patch(
        token,
        PATH,
        {"notification_rules": {"eligible_assignment": {"admin": {"extra_recipients": ["x@"]}}}},
    )
    problem = assert_problem(bad_address, 422, "invalid_email")
    assert problem["field"] == "notification_rules.eligible_assignment.admin.extra_recipients"
    too_many = [f"r{n}@contoso.example" for n in range(101)]
    over = api.patch(
        token,
        PATH,
        {"notification_rules": {"activation": {"requestor": {"extra_recipients": too_many}}}},
    )
    assert_problem(over, 422, "setting_out_of_bounds")
    unknown = api.patch(token, PATH, {"notification_rules": {"expiry": {}}})
    assert unknown.status_code == 422
    # Only a PRA changes them; any member may read them.
    member = api.env.user(directory, "member")
    refused = api.patch(
        api.token(member),
        PATH,
        {"notification_rules": {"activation": {"admin": {"level": "None"}}}},
    )
    assert refused.status_code == 403
    assert api.get(token, PATH).json()["is_default"] is True
