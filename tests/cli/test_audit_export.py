"""`openpim audit export`: filtered, streamed CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from tests.cli.conftest import Cli
from tests.factories import Env


def _history(cli: Cli, env: Env) -> tuple[str, str]:
    directory, _admin = env.pim_directory()
    bob, carol = env.user(directory, "bob"), env.user(directory, "carol")
    for user in (bob, carol):
        upn = user.user_principal_name
        assert cli(["assign", upn, "Helpdesk Administrator", "--eligible"]).exit_code == 0
        env.clock.advance(timedelta(hours=1))
    assert cli(["user", "disable", carol.user_principal_name]).exit_code == 0
    return bob.user_principal_name, carol.user_principal_name


def test_csv_export_filters_by_action_and_writes_a_file(cli: Cli, env: Env, tmp_path: Path) -> None:
    bob, carol = _history(cli, env)
    target = tmp_path / "audit.csv"
    result = cli(["audit", "export", "--action", "eligibility.added", "--output", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["action"], r["target"]) for r in rows] == [
        ("eligibility.added", carol),
        ("eligibility.added", bob),
    ]
    assert all(r["role"] == "Helpdesk Administrator" and r["end_at"] == "" for r in rows)


def test_json_export_by_user_and_time_range(cli: Cli, env: Env) -> None:
    bob, carol = _history(cli, env)
    everything = json.loads(cli(["audit", "export", "--format", "json"]).stdout)
    assert [e["seq"] for e in everything] == sorted((e["seq"] for e in everything), reverse=True)
    about_carol = json.loads(cli(["audit", "export", "--format", "json", "--user", carol]).stdout)
    assert [e["action"] for e in about_carol] == ["user.disabled", "eligibility.added"]
    assert about_carol[0]["detail"] == {
        "activations_ended": 0,
        "requests_canceled": 0,
        "tokens_revoked": 0,
    }

    since = (env.now - timedelta(minutes=30)).isoformat()
    recent = json.loads(cli(["audit", "export", "--format", "json", "--since", since]).stdout)
    assert [e["action"] for e in recent] == ["user.disabled"]
    nothing = cli(["audit", "export", "--format", "json", "--user", bob, "--since", since])
    assert json.loads(nothing.stdout) == []


def test_export_refuses_naive_instants_and_unknown_names(cli: Cli, env: Env) -> None:
    _history(cli, env)
    naive = cli(["audit", "export", "--since", "2026-01-05T09:00:00"])
    assert naive.exit_code == 2
    assert "no UTC offset" in naive.stderr
    assert cli(["audit", "export", "--role", "Chief Wizard"]).exit_code == 3
