"""`openpim notifications ...` in-process, on the test database and its frozen clock."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner, Result

import openpim.cli
from openpim.cli.common import ErrorMappingGroup
from openpim.config import Settings
from openpim.notifications.cli import notifications_app
from openpim.runtime import Runtime
from tests.factories import Env
from tests.notifications.helpers import deliveries
from tests.notifications.servers import Receiver, SmtpServer, WebhookServer

root = typer.Typer(cls=ErrorMappingGroup, no_args_is_help=True)
root.add_typer(notifications_app, name="notifications")


@pytest.fixture
def run(runtime: Runtime, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def make_runtime(settings: Settings) -> Runtime:
        return runtime

    monkeypatch.setattr(openpim.cli, "make_runtime", make_runtime)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        url = runtime.settings.database_url
        return runner.invoke(root, ["notifications", *args, "--database-url", url], input=input)

    return invoke


def test_configure_send_and_inspect_from_the_shell(env: Env, run, smtp: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    env.pim_directory()
    saved = run(
        "email",
        "set",
        "--host",
        "127.0.0.1",
        "--port",
        str(smtp.port),
        "--security",
        "none",
        "--from",
        "PIM <pim@contoso.example>",
    )
    assert saved.exit_code == 0, saved.output
    no_tls = run(
        "email",
        "set",
        "--host",
        "127.0.0.1",
        "--security",
        "none",
        "--username",
        "u",
        "--password-stdin",
        "--from",
        "pim@contoso.example",
        input="pw\n",
    )
    assert no_tls.exit_code == 1 and "login_needs_tls" in no_tls.output

    receiver = Receiver(secret="x" * 32)
    server = WebhookServer(receiver).start()
    try:
        added = run("webhook", "add", "siem", receiver.url, "--secret-stdin", input="x" * 32 + "\n")
        assert added.exit_code == 0, added.output
        assert "x" * 32 not in added.output
        generated = run("webhook", "add", "chat", "https://chat.example/in", "--format", "slack")
        assert "secret (shown once" in generated.output
        assert run("webhook", "update", "chat", "--disable").exit_code == 0

        shown = run("show", "--json")
        data = json.loads(shown.stdout)
        assert data["email"]["port"] == smtp.port
        assert [h["name"] for h in data["webhooks"]] == ["chat", "siem"]
        assert "x" * 32 not in shown.stdout

        assert run("test", "--email", "ops@contoso.example").exit_code == 0
        assert run("test", "--webhook", "siem").exit_code == 0
        delivered = run("deliver", "--json")
        assert delivered.exit_code == 0, delivered.output
        assert json.loads(delivered.stdout)["delivered"] == 2
    finally:
        server.stop()
    assert smtp.received[0].recipients == ["ops@contoso.example"]
    assert receiver.hits[0].signature_ok

    log = run("log")
    assert log.exit_code == 0 and "ops@contoso.example" in log.output and "delivered" in log.output
    (mail,) = deliveries(env, channel="email")
    not_dead = run("retry", str(mail.id))
    assert not_dead.exit_code == 4 and "delivery_not_dead" in not_dead.output
    assert run("retry", "--all-dead").output.startswith("0 deliveries")
    assert run("webhook", "remove", "siem").exit_code == 0
    assert run("webhook", "remove", "siem").exit_code == 3
