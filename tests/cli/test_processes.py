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
from sqlalchemy import create_engine, text
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


def _serve_until_healthy(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    server = _openpim("serve", "--port", str(port), "--no-worker", env=env)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert server.poll() is None, server.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)


def _failed_sign_ins(port: int, forwarded_for: str, count: int) -> list[int]:
    statuses = []
    for n in range(count):
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/sign-in",
            json={"user_principal_name": f"nobody{n}@x.example", "password": "wrong-password"},
            headers={"X-Forwarded-For": forwarded_for},
            timeout=10,
        )
        statuses.append(response.status_code)
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("trusted", ["127.0.0.1,::1", ""])
def test_serve_believes_forwarded_addresses_only_from_trusted_proxies(
    tmp_path: Path, trusted: str
) -> None:
    """Behind a believed proxy the sign-in limit per address counts each client's own
    failures; a proxy that is not believed makes every client share its address and limit."""
    url = f"sqlite:///{tmp_path / 'proxied.db'}"
    port = _free_port()
    env = {
        "OPENPIM_DATABASE_URL": url,
        "OPENPIM_TRUSTED_PROXIES": trusted,
        "OPENPIM_SIGN_IN_FAILURES_PER_ADDRESS": "3",
    }
    server = _serve_until_healthy(port, env)
    try:
        first_client = _failed_sign_ins(port, "203.0.113.9", 4)
        second_client = _failed_sign_ins(port, "198.51.100.7", 1)
    finally:
        _stop(server, signal.SIGINT)
    assert first_client == [401, 401, 401, 429]
    assert second_client == ([401] if trusted else [429])
    engine = create_engine(url)
    with engine.connect() as conn:
        addresses = set(
            conn.execute(text("SELECT client_address FROM audit_events WHERE action LIKE 'auth.%'"))
            .scalars()
            .all()
        )
    engine.dispose()
    assert addresses == ({"203.0.113.9", "198.51.100.7"} if trusted else {"127.0.0.1"})


def test_an_invalid_setting_is_named_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        openpim.cli.app,
        ["init", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"],
        env={"OPENPIM_TRUSTED_PROXIES": "10.0.0.1/8"},
    )
    assert result.exit_code == 2
    assert "invalid_setting: OPENPIM_TRUSTED_PROXIES" in result.stderr
    assert "host bits set" in result.stderr
