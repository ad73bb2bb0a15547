"""The README's configuration table names every setting, and only settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

from openpim.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
# Variables the README names for the test suite, not for the server.
TEST_ONLY = {"OPENPIM_REQUIRE_POSTGRES", "OPENPIM_TEST_POSTGRES_ADMIN_URL"}


def test_every_setting_is_in_the_readme_table_and_nothing_else() -> None:
    text = README.read_text(encoding="utf-8")
    in_table = set(re.findall(r"^\| `(OPENPIM_[A-Z0-9_]+)` \|", text, flags=re.M))
    settings = {f"OPENPIM_{name.upper()}" for name in Settings.model_fields}
    assert settings - in_table == set(), "settings missing from the README's table"
    mentioned = set(re.findall(r"OPENPIM_[A-Z0-9_]+", text)) - TEST_ONLY
    assert mentioned - settings == set(), "the README names variables that set nothing"
