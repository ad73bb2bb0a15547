"""The whole journey over HTTP: bootstrap, sign-in, enable PIM, assign, activate, check, end."""

from __future__ import annotations

from datetime import timedelta

import pyotp

from openpim.directory import service as directory_service
from openpim.kit.context import Actor
from openpim.roles import ids
from tests.api.helpers import PASSWORD, Api, assert_problem, bearer
from tests.factories import GLOBAL_READER

V1 = "/api/v1"


def test_full_flow_from_bootstrap_to_deactivation(api: Api) -> None:
    env, client = api.env, api.client
    with env.ctx(Actor.operator("setup")) as ctx:
        directory, admin, secret = directory_service.bootstrap(
            ctx, "Contoso", "contoso.example", "admin@contoso.example", "Admin", PASSWORD
        )
    admin_totp = pyotp.TOTP(secret)

    # The first administrator signs in with password and TOTP.
    signed_in = client.post(
        f"{V1}/auth/sign-in",
        json={
            "user_principal_name": "admin@contoso.example",
            "password": PASSWORD,
            "totp_code": admin_totp.at(env.now),
        },
    )
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert body["token_type"] == "bearer" and body["mfa_verified"] is True
    assert body["user"]["id"] == str(admin.id)
    assert "password" not in signed_in.text and secret not in signed_in.text
    admin_h = bearer(body["access_token"])

    # ... enables PIM and becomes Privileged Role Administrator.
    enabled = client.post(f"{V1}/pim/enable", headers=admin_h)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["pim_enabled_at"].startswith("2026-01-05T09:00:00")
    my_roles = client.get(f"{V1}/me/roles", headers=admin_h).json()["value"]
    assert {r["role_id"] for r in my_roles} >= {
        str(ids.PRIVILEGED_ROLE_ADMINISTRATOR),
        str(ids.GLOBAL_ADMINISTRATOR),
    }

    # ... creates a member, who signs in and enrols an authenticator.
    created = client.post(
        f"{V1}/users",
        headers=admin_h,
        json={
            "user_principal_name": "member@contoso.example",
            "display_name": "Member",
            "password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    member_id = created.json()["id"]
    first = client.post(
        f"{V1}/auth/sign-in",
        json={"user_principal_name": "member@contoso.example", "password": PASSWORD},
    )
    assert first.status_code == 200, first.text
    assert first.json()["mfa_verified"] is False
    first_h = bearer(first.json()["access_token"])
    enrollment = client.post(f"{V1}/me/mfa/enroll", headers=first_h)
    assert enrollment.status_code == 200, enrollment.text
    member_totp = pyotp.TOTP(enrollment.json()["secret"])
    confirmed = client.post(
        f"{V1}/me/mfa/confirm", headers=first_h, json={"code": member_totp.at(env.now)}
    )
    assert confirmed.status_code == 200 and confirmed.json()["mfa_enrolled"] is True

    # The admin makes the member eligible for Global Reader.
    assigned = client.post(
        f"{V1}/assignments",
        headers=admin_h,
        json={
            "principal_id": member_id,
            "role_id": str(GLOBAL_READER),
            "member_type": "Eligible",
            "justification": "on-call rota",
        },
    )
    assert assigned.status_code == 201, assigned.text
    assert assigned.json()["status"] == "Provisioned"

    # The member signs in again, with the TOTP code now (a code is good once: next step).
    env.clock.advance(timedelta(seconds=30))
    second = client.post(
        f"{V1}/auth/sign-in",
        json={
            "user_principal_name": "member@contoso.example",
            "password": PASSWORD,
            "totp_code": member_totp.at(env.now),
        },
    )
    assert second.status_code == 200, second.text
    assert second.json()["mfa_verified"] is True
    member_h = bearer(second.json()["access_token"])
    check = f"{V1}/access/users/{member_id}/roles/{GLOBAL_READER}"
    assert client.get(check, headers=member_h).json() == {"active": False}

    activated = client.post(
        f"{V1}/me/activations",
        headers=member_h,
        json={"role_id": str(GLOBAL_READER), "duration": "PT1H", "justification": "audit prep"},
    )
    assert activated.status_code == 201, activated.text
    request = activated.json()
    assert request["status"] == "Provisioned" and request["action"] == "selfActivate"
    assert request["end_at"] == "2026-01-05T10:00:30Z"

    # The access check agrees, for the member and for a reader (the admin).
    assert client.get(check, headers=member_h).json() == {"active": True}
    assert client.get(check, headers=admin_h).json() == {"active": True}
    roles = client.get(f"{V1}/access/users/{member_id}/roles", headers=member_h).json()
    assert roles["role_ids"] == [str(GLOBAL_READER)]

    # Deactivating within 5 minutes of activating is refused; after 6 minutes it works.
    too_soon = client.post(
        f"{V1}/me/deactivations", headers=member_h, json={"role_id": str(GLOBAL_READER)}
    )
    assert_problem(too_soon, 409)
    env.clock.advance(timedelta(minutes=6))
    ended = client.post(
        f"{V1}/me/deactivations", headers=member_h, json={"role_id": str(GLOBAL_READER)}
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["action"] == "selfDeactivate"
    assert client.get(check, headers=member_h).json() == {"active": False}
    at_activation = client.get(check, headers=member_h, params={"at": "2026-01-05T09:01:00Z"})
    assert at_activation.json() == {"active": True}

    # Both show up in the member's own history.
    mine = client.get(f"{V1}/me/audit", headers=member_h).json()["items"]
    actions = [e["action"] for e in mine]
    assert "activation.activated" in actions and "activation.deactivated" in actions
    assert directory.id is not None
