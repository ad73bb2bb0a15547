"""Browser tests: a real uvicorn server on 127.0.0.1 and Debian's chromium driven by Playwright.

The server runs in a thread on a migrated temporary SQLite database with a FrozenClock the test
moves, so TOTP codes are computed from the same instant the server checks them at.

Chromium is /usr/bin/chromium (OPENPIM_CHROMIUM overrides). When it is missing the tests skip
with the reason, unless OPENPIM_REQUIRE_BROWSER=1 (CI), which makes that a failure. Screenshots
go to $OPENPIM_ARTIFACTS_DIR, default tests/e2e/artifacts (git-ignored).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from openpim.app import create_app
from openpim.auth import passwords
from openpim.config import Settings
from openpim.db.migrate import upgrade
from openpim.kit.clock import FrozenClock
from openpim.runtime import Runtime
from tests.live_server import serving

CHROMIUM = os.environ.get("OPENPIM_CHROMIUM", "/usr/bin/chromium")
REQUIRE = os.environ.get("OPENPIM_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("OPENPIM_ARTIFACTS_DIR") or Path(__file__).parent / "artifacts")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _why_no_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    reason = _why_no_browser()
    if reason:
        if REQUIRE:
            pytest.fail(f"OPENPIM_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    clock: FrozenClock
    shots: list[str] = field(default_factory=list)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    # A real-looking instant, so the browser's own clock and ours tell the same day.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    upgrade(url, clock=clock)
    settings = Settings(database_url=url, secret_key="e2e-secret-key-0123456789abcdef")  # type: ignore[arg-type]
    runtime = Runtime.from_settings(settings, clock)
    with serving(create_app(runtime=runtime, start_worker=False)) as url:
        yield LiveServer(url, runtime, clock)
    runtime.db.dispose()
    passwords.use_hasher(previous)


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def check_accessibility(page: Any, axe_source: str, name: str) -> None:
    """axe-core on the current page: no serious or critical violation."""
    page.evaluate(axe_source)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    bad = [v for v in result if v.get("impact") in ("serious", "critical")]
    summary = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in bad
    ]  # fmt: skip
    assert not bad, f"axe on {name}: " + json.dumps(summary, indent=1)


def console_errors(page: Any) -> list[str]:
    """Script errors and CSP violations the page reports (HTTP statuses are asserted apart:
    the tests provoke 401s and 404s on purpose)."""
    found: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            found.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"{page.url}: {error}"))
    return found


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # caret="initial": hiding the caret would inject a <style>, which our CSP (rightly) blocks.
    page.screenshot(path=str(path), full_page=True, caret="initial")
    return path
