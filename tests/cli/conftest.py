"""CLI tests: the commands run in-process (typer's CliRunner) on the test database.

`openpim.cli.make_runtime` is replaced so every command shares the test's Runtime, and with it
the FrozenClock; argon2 runs with tiny parameters so a password costs milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher, Type
from typer.testing import CliRunner, Result

import openpim.cli
from openpim.auth import passwords
from openpim.config import Settings
from openpim.directory.models import User
from openpim.runtime import Runtime
from tests.factories import Env

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_hasher() -> Iterator[None]:
    previous = passwords.use_hasher(
        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    )
    yield
    passwords.use_hasher(previous)


@dataclass
class Cli:
    runtime: Runtime
    runner: CliRunner

    def __call__(self, args: Sequence[str], input: str | None = None) -> Result:
        url = self.runtime.settings.database_url
        return self.runner.invoke(openpim.cli.app, [*args, "--database-url", url], input=input)

    def json(self, args: Sequence[str], input: str | None = None) -> Any:
        result = self([*args, "--json"], input=input)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Cli:
    def make_runtime(settings: Settings) -> Runtime:
        assert settings.database_url == runtime.settings.database_url
        return runtime

    monkeypatch.setattr(openpim.cli, "make_runtime", make_runtime)
    return Cli(runtime, CliRunner())


def give_password(env: Env, user: User, password: str = PASSWORD) -> None:
    with env.runtime.db.unit_of_work() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.password_hash = passwords.hash_password(password)
