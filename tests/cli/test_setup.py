"""First run, the worker, the audit chain and the dev dataset, through the command line."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pyotp
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import openpim.cli
from openpim.assignments.service import enable_pim
from openpim.kit.context import Actor, ActorKind
from tests.audit.tampering import rewrite_from
from tests.cli.conftest import PASSWORD, Cli
from tests.factories import PRA, Env


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(openpim.cli.app, ["--help"])
    assert result.exit_code == 0
    for text_ in ("3 not found", "4 conflict", "5 authentication failed", "6 audit chain broken"):
        assert text_ in " ".join(result.output.split())


def test_init_migrates_an_empty_database_and_says_how_to_bootstrap(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    runner = CliRunner()
    result = runner.invoke(openpim.cli.app, ["init", "--database-url", url, "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["revision"] is not None
    assert status["bootstrapped"] is False
    assert status["bootstrap_command"].startswith("openpim bootstrap --directory-name")

    again = runner.invoke(openpim.cli.app, ["migrate"], env={"OPENPIM_DATABASE_URL": url})
    assert again.exit_code == 0, again.output
    assert f"is at revision {status['revision']}" in again.stdout


def test_migrate_seals_authenticator_secrets_an_older_version_stored_in_clear(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'upgraded.db'}"
    runner = CliRunner(env={"OPENPIM_SECRET_KEY": "upgrade-test-key-0123456789abcdef"})
    assert runner.invoke(openpim.cli.app, ["init", "--database-url", url]).exit_code == 0
    bootstrap = ["bootstrap", "--directory-name", "Contoso", "--domain", "contoso.example"]
    bootstrap += ["--admin-upn", "ada@contoso.example", "--admin-name", "Ada", "--password-stdin"]
    made = runner.invoke(
        openpim.cli.app, [*bootstrap, "--database-url", url, "--json"], input=f"{PASSWORD}\n"
    )
    assert made.exit_code == 0, made.output
    secret = json.loads(made.stdout)["totp_secret"]
    engine = create_engine(url)
    with engine.begin() as conn:  # as an older version stored it
        conn.execute(text("UPDATE users SET totp_secret = :s"), {"s": secret})

    result = runner.invoke(openpim.cli.app, ["migrate", "--database-url", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["revision"] is not None  # the notice goes to stderr
    assert "sealed 1 authenticator secret(s) stored in clear" in result.stderr
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM users")).scalar_one()
    engine.dispose()
    assert stored.startswith("enc1:") and secret not in stored
    again = runner.invoke(openpim.cli.app, ["migrate", "--database-url", url])
    assert again.exit_code == 0 and "sealed" not in again.stderr  # nothing left to seal


def test_bootstrap_prints_the_secret_once_then_refuses_a_second_run(cli: Cli, env: Env) -> None:
    args = ["bootstrap", "--directory-name", "Contoso", "--domain", "contoso.example"]
    args += ["--admin-upn", "Ada@Contoso.example", "--admin-name", "Ada Admin"]
    result = cli(args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.stdout
    assert "openpim pim enable --as ada@contoso.example" in result.stdout

    again = cli([*args, "--password-stdin"], input=f"{PASSWORD}\n")
    assert again.exit_code == 4
    assert "error: already_bootstrapped:" in again.stderr


def test_bootstrap_then_enable_pim_through_the_service(cli: Cli, env: Env) -> None:
    args = ["bootstrap", "--directory-name", "Contoso", "--domain", "contoso.example"]
    args += ["--admin-upn", "ada@contoso.example", "--admin-name", "Ada", "--password-stdin"]
    out = cli.json(args, input=f"{PASSWORD}\n")
    assert (
        pyotp.TOTP(out["totp_secret"]).provisioning_uri(
            name="ada@contoso.example", issuer_name="OpenPIM"
        )
        == out["otpauth_uri"]
    )
    admin = Actor(
        kind=ActorKind.USER,
        label="ada@contoso.example",
        user_id=uuid.UUID(out["admin_id"]),
        directory_id=uuid.UUID(out["directory_id"]),
    )
    with env.ctx(admin) as ctx:
        enable_pim(ctx, uuid.UUID(out["directory_id"]))

    check = cli.json(["check", "ada@contoso.example", "--role", str(PRA)])
    assert check["role"]["active"] is True
    names = {r["display_name"] for r in check["active_roles"]}
    assert {"Global Administrator", "Privileged Role Administrator"} <= names


def test_pim_enable_as_the_administrator_needs_password_and_code(cli: Cli, env: Env) -> None:
    args = ["bootstrap", "--directory-name", "Contoso", "--domain", "contoso.example"]
    args += ["--admin-upn", "ada@contoso.example", "--admin-name", "Ada", "--password-stdin"]
    secret = cli.json(args, input=f"{PASSWORD}\n")["totp_secret"]
    code = pyotp.TOTP(secret).at(env.now)

    wrong = cli(["pim", "enable", "--as", "ada@contoso.example"], input=f"{PASSWORD}\n000000\n")
    assert wrong.exit_code == 5
    assert "error: invalid_mfa_code:" in wrong.stderr

    result = cli(["pim", "enable", "--as", "ada@contoso.example"], input=f"{PASSWORD}\n{code}\n")
    assert result.exit_code == 0, result.output
    assert (
        cli(["check", "ada@contoso.example", "--role", "privileged role administrator"]).exit_code
        == 0
    )


def test_audit_verify_names_the_first_tampered_event(cli: Cli, env: Env) -> None:
    args = ["bootstrap", "--directory-name", "Contoso", "--domain", "contoso.example"]
    args += ["--admin-upn", "ada@contoso.example", "--admin-name", "Ada", "--password-stdin"]
    cli.json(args, input=f"{PASSWORD}\n")
    intact = cli(["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    count = cli.json(["audit", "verify"])["events"]
    assert count >= 3
    head = cli(["audit", "head"]).stdout.strip()
    assert head.startswith(f"{count}:") and len(head) == len(f"{count}:") + 64
    assert intact.stdout.splitlines() == [
        f"chain intact: {count} events",
        f"head: {head} (keep it outside the database; pass it as --anchor)",
    ]

    with env.runtime.db.unit_of_work() as session:
        session.execute(text("UPDATE audit_events SET target_label = 'mallory' WHERE seq = 2"))
    broken = cli(["audit", "verify"])
    assert broken.exit_code == 6
    assert "seq 2" in broken.stderr
    assert "hash mismatch" in broken.stderr
    report = json.loads(cli(["audit", "verify", "--json"]).stdout)
    assert report == {
        "ok": False,
        "events": 1,
        "first_broken_seq": 2,
        "reason": "hash mismatch",
        "anchors_checked": None,
        "head": None,
    }
    # Ranges checked in two worker processes name the same first broken event.
    parallel = json.loads(cli(["audit", "verify", "--json", "--workers", "2"]).stdout)
    assert parallel["ok"] is False and parallel["first_broken_seq"] == 2


def test_audit_verify_with_anchors_detects_a_rewritten_history(
    cli: Cli, env: Env, tmp_path: Path
) -> None:
    assert cli.json(["audit", "head"]) == {"seq": 0, "hash": None, "anchor": None}
    assert "nothing to anchor yet" in cli(["audit", "head"]).stderr
    args = ["bootstrap", "--directory-name", "Contoso", "--domain", "contoso.example"]
    args += ["--admin-upn", "ada@contoso.example", "--admin-name", "Ada", "--password-stdin"]
    cli.json(args, input=f"{PASSWORD}\n")
    head = cli.json(["audit", "head"])
    assert cli.json(["audit", "verify"])["head"] == head["anchor"]
    anchors = tmp_path / "anchors"
    anchors.write_text(f"# nightly\n{head['anchor']}\n")
    held = cli(["audit", "verify", "--anchor", head["anchor"], "--anchors", str(anchors)])
    assert held.exit_code == 0, held.output
    assert "1 anchor(s) hold" in held.stdout

    # Rewrite event 2 and recompute every hash after it: the chain alone verifies again.
    rewrite_from(env, 2, target_label="mallory")
    assert cli(["audit", "verify"]).exit_code == 0

    rewritten = cli(["audit", "verify", "--anchors", str(anchors)])
    assert rewritten.exit_code == 6
    assert f"REWRITTEN: the event at seq {head['seq']} no longer has the anchored hash" in (
        rewritten.stderr
    )
    report = cli(["audit", "verify", "--anchor", head["anchor"], "--json"])
    assert json.loads(report.stdout)["reason"] == "anchor mismatch"

    bad = cli(["audit", "verify", "--anchor", "12:abc"])
    assert bad.exit_code == 2 and "expected SEQ:HASH" in bad.output
    anchors.write_text("1:" + "0" * 64 + "\nnot an anchor\n")
    assert "line 2" in cli(["audit", "verify", "--anchors", str(anchors)]).output
    missing = cli(["audit", "verify", "--anchors", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_audit_verify_uses_one_process_per_cpu_for_a_long_chain(env: Env) -> None:
    from openpim.audit import verify

    env.pim_directory()
    assert verify.auto_workers(env.runtime.db) == 1
    with env.runtime.db.unit_of_work() as session:
        session.execute(
            text("UPDATE audit_chain_head SET last_seq = :n"), {"n": verify.PARALLEL_FROM_EVENTS}
        )
    assert verify.auto_workers(env.runtime.db) == max(1, os.cpu_count() or 1)


def test_worker_once_records_an_expired_activation(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory)
    env.activated(user, PRA, duration=timedelta(hours=1))
    env.clock.advance(timedelta(hours=2))
    first = cli.json(["worker", "--once"])
    assert first["recorded"] == {"activation.expired": 1}
    assert cli.json(["worker", "--once"])["total"] == 0


def test_dev_seed_fills_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    summary = tmp_path / "summary.json"
    args = ["dev", "seed", "--users", "20", "--schedules", "30", "--audit-events", "40"]
    args += ["--summary", str(summary), "--database-url", url, "--json"]
    result = CliRunner().invoke(openpim.cli.app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads(summary.read_text())
    verify = CliRunner().invoke(openpim.cli.app, ["audit", "verify", "--database-url", url])
    assert verify.exit_code == 0, verify.output
    assert (
        verify.stdout.splitlines()[0] == f"chain intact: {printed['audit_head']['last_seq']} events"
    )
