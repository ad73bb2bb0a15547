"""A CLI with the issue-4 sub-apps mounted (as cli/__init__.py will), on the test runtime."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

import openpim.cli
from openpim.alerts.cli import alerts_app
from openpim.cli.common import ErrorMappingGroup
from openpim.config import Settings
from openpim.reports.cli import reports_app
from openpim.reviews.cli import reviews_app
from openpim.runtime import Runtime

app = typer.Typer(cls=ErrorMappingGroup, no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(alerts_app, name="alerts")
app.add_typer(reviews_app, name="reviews")
app.add_typer(reports_app, name="reports")


@dataclass
class Cli4:
    runtime: Runtime
    runner: CliRunner

    def __call__(self, args: Sequence[str], input: str | None = None) -> Result:
        url = self.runtime.settings.database_url
        return self.runner.invoke(app, [*args, "--database-url", url], input=input)

    def json(self, args: Sequence[str]) -> Any:
        result = self([*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli4(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Cli4:
    def make_runtime(settings: Settings) -> Runtime:
        assert settings.database_url == runtime.settings.database_url
        return runtime

    monkeypatch.setattr(openpim.cli, "make_runtime", make_runtime)
    return Cli4(runtime, CliRunner())
