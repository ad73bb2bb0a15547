"""Email content and recipients, delivered through a real SMTP server on loopback."""

from __future__ import annotations

from datetime import timedelta

from openpim.directory.models import User
from openpim.notifications.fanout import delivery_id
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.assignments.helpers import activate
from tests.factories import PASSWORD_ADMIN, SECURITY_ADMIN, Env
from tests.notifications.helpers import deliver, deliveries, email_channel, events
from tests.notifications.servers import SmtpServer


def test_an_activation_emails_the_admins_with_the_facts_and_a_portal_link(
    env: Env, smtp: SmtpServer
) -> None:
    directory, admin = env.pim_directory()
    security = env.user(directory, "secops")
    env.permanent(security, SECURITY_ADMIN)
    user = env.user(directory, "alice")
    env.eligible(user, PASSWORD_ADMIN)
    email_channel(env, directory, smtp.port)

    request = activate(env, user, PASSWORD_ADMIN, timedelta(hours=2), justification="INC-7 reset")
    counts = deliver(env)

    # The admins (role activation alert) and, by Entra's default, the member who activated.
    assert counts.delivered == 3
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(
        [admin.user_principal_name, security.user_principal_name, user.user_principal_name]
    )
    mail = smtp.to(security.user_principal_name)[0].message
    who = f"Alice (alice@{env.domain_of(directory)})"
    assert mail["Subject"] == f"PIM: {who} activated Password Administrator"
    assert mail["From"] == "Contoso PIM <pim@contoso.example>"
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    until = (env.now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M UTC")
    for part in (text, html):
        assert "Password Administrator" in part
        assert "INC-7 reset" in part
        assert until in part
        assert f"http://127.0.0.1:8000/roles/{PASSWORD_ADMIN}" in part
    event = events(env, "role.activated")[0]
    assert event.payload["request_id"] == str(request.id)
    expected_id = delivery_id(event.id, "email", security.user_principal_name)
    assert mail["Message-ID"] == f"<{expected_id}@contoso.example>"
    assert all(d.delivered_at == env.now for d in deliveries(env))


def test_the_role_setting_switches_admins_off_and_adds_extra_recipients(
    env: Env, smtp: SmtpServer
) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory, "bob")
    env.eligible(user, PASSWORD_ADMIN)
    email_channel(env, directory, smtp.port)
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(
                notify_default_recipients=False,
                notify_extra_recipients=["soc@contoso.example", "Lead@Contoso.example"],
            ),
        )
    activate(env, user, PASSWORD_ADMIN)
    deliver(env)
    assert sorted(r.recipients[0] for r in smtp.received) == [
        "Lead@contoso.example",
        user.user_principal_name,  # the activated user's own rule is still on
        "soc@contoso.example",
    ]


def test_html_escapes_what_users_typed(env: Env, smtp: SmtpServer) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory, "carol")
    env.eligible(user, PASSWORD_ADMIN)
    email_channel(env, directory, smtp.port)
    activate(env, user, PASSWORD_ADMIN, justification="<script>alert(1)</script> & more")
    deliver(env)
    mail = smtp.received[0].message
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "<script>alert(1)</script> & more" in mail.get_body(("plain",)).get_content()


def test_without_an_email_channel_the_event_is_kept_as_done_with_the_reason(env: Env) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory, "dave")
    env.eligible(user, PASSWORD_ADMIN)
    activate(env, user, PASSWORD_ADMIN)
    counts = deliver(env)
    assert counts.events_expanded >= 1 and counts.claimed == 0
    event = events(env, "role.activated")[0]
    assert event.delivered_at is not None
    assert event.summary is not None
    assert event.summary["email_skipped"].startswith("no email channel")
    assert event.content is not None and event.content["subject"].startswith("PIM: ")


def test_non_ascii_names_survive_the_trip(env: Env, smtp: SmtpServer) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory, "zoe")
    with env.runtime.db.unit_of_work() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.display_name = "Zoë Ångström"
    env.eligible(user, PASSWORD_ADMIN)
    email_channel(env, directory, smtp.port, from_address="Équipe PIM <pim@contoso.example>")
    activate(env, user, PASSWORD_ADMIN, justification="réinitialiser les mots de passe")
    deliver(env)
    mail = smtp.received[0].message
    assert str(mail["Subject"]).startswith("PIM: Zoë Ångström (zoe@")
    assert str(mail["From"]) == "Équipe PIM <pim@contoso.example>"
    assert "réinitialiser les mots de passe" in mail.get_body(("plain",)).get_content()
    raw = smtp.received[0].raw
    assert raw.isascii()  # encoded words and quoted-printable: no SMTPUTF8 needed
    assert b"Subject: =?utf-8?" in raw
