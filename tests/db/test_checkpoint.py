"""The background WAL checkpointer (SQLite): pages reach the main file off the request path."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from openpim.db.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from openpim.db.session import make_engine


def _autocheckpoint(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _rows_in_main_file(db: Path, scratch: Path) -> int:
    """Rows readable from the main database file alone (the WAL left behind)."""
    copy = scratch / "main-only.sqlite"
    shutil.copyfile(db, copy)
    with sqlite3.connect(copy) as conn:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


def test_pages_reach_the_main_file_without_a_request_checkpointing(tmp_path: Path) -> None:
    db = tmp_path / "wal.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    checkpointer = WalCheckpointer(engine, interval=0.01)
    checkpointer.start()
    try:
        # Connections opened from now on leave checkpoints to the thread (up to the backstop).
        engine.dispose()
        assert _autocheckpoint(engine) == BACKSTOP_PAGES
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 500}] * 200)
        seen = checkpointer.checkpoints
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < seen + 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for a thread's progress, not for a clock
        assert _rows_in_main_file(db, tmp_path) == 200
    finally:
        checkpointer.stop()
    engine.dispose()
    assert _autocheckpoint(engine) == 1000  # SQLite's default again once stopped
    engine.dispose()


def test_the_server_runs_one_while_it_is_up(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from openpim.app import create_app
    from openpim.config import Settings
    from openpim.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, run_worker_in_server=False))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        engine = app.state.runtime.db.engine
        assert _autocheckpoint(engine) == BACKSTOP_PAGES


def test_its_listener_is_in_place_before_any_background_thread_connects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy walks an engine's "connect" listeners unlocked while making a connection, so
    adding one while a background loop connects failed that connection ("deque mutated during
    iteration", seen at start-up): the server registers it before it starts the loops."""
    from fastapi.testclient import TestClient

    from openpim import background
    from openpim.app import create_app
    from openpim.config import Settings
    from openpim.db.migrate import upgrade

    order: list[str] = []
    real_start, real_loops = WalCheckpointer.start, background.start

    def checkpointer_start(self: WalCheckpointer) -> None:
        order.append("checkpointer")
        real_start(self)

    def loops_start(*args: Any, **kwargs: Any) -> Any:
        order.append("background loops")
        return real_loops(*args, **kwargs)

    monkeypatch.setattr(WalCheckpointer, "start", checkpointer_start)
    monkeypatch.setattr(background, "start", loops_start)
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, run_worker_in_server=True))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    assert order == ["checkpointer", "background loops"]
