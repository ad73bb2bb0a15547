"""`openpim serve` and `openpim worker` as real processes, stopped by signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import openpim.cli

START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openpim(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "openpim.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _stop(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    process.send_signal(sig)
    try:
        return process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


@pytest.mark.slow
def test_serve_migrates_an_empty_database_and_answers_from_two_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    port = _free_port()
    server = _openpim(
        "serve", "--port", str(port), "--workers", "2", env={"OPENPIM_DATABASE_URL": url}
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert server.poll() is None, server.communicate()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    finally:
        out, err = _stop(server, signal.SIGINT)
    assert server.returncode == 0, err
    assert "openpim bootstrap --directory-name" in out
    # OpenPIM's own INFO lines reach the server's log (uvicorn configures only its loggers).
    assert "openpim.background background loops started" in err
    status = CliRunner().invoke(openpim.cli.app, ["init", "--json", "--database-url", url])
    assert '"bootstrapped": false' in status.stdout


def test_worker_runs_until_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    migrated = CliRunner().invoke(openpim.cli.app, ["migrate", "--database-url", url])
    assert migrated.exit_code == 0, migrated.output
    worker = _openpim("worker", "--database-url", url)
    assert worker.stderr is not None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "worker started" not in worker.stderr.readline():
            assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
    finally:
        _out, err = _stop(worker, signal.SIGTERM)
    assert worker.returncode == 0, err
    assert "worker stopped" in err
