"""SMTP over STARTTLS and implicit TLS with a login, against aiosmtpd with our own CA."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from openpim.assignments.models import MemberType
from tests.assignments.helpers import assign
from tests.factories import PASSWORD_ADMIN, Env
from tests.notifications.helpers import (
    POLICY,
    deliver,
    deliveries,
    email_channel,
    legacy_recipients,
)
from tests.notifications.servers import SmtpServer

LOGIN, PASSWORD = "pim-relay", "relay-password-0123"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _authenticator(logins: list[str]) -> Any:
    def check(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            LOGIN.encode(),
            PASSWORD.encode(),
        )
        if ok:
            logins.append(LOGIN)
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Our test CA is what the default context trusts (as a company CA would be)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def _one_email(env: Env, port: int, **channel: Any) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, port, **channel)
    legacy_recipients(env, directory)
    assign(env, admin, env.user(directory), PASSWORD_ADMIN, MemberType.ELIGIBLE)


@pytest.fixture
def starttls(certificate: tuple[Path, Path]) -> Iterator[tuple[SmtpServer, list[str]]]:
    logins: list[str] = []
    server = SmtpServer(
        tls_context=_server_context(certificate),
        require_starttls=True,
        auth_required=True,
        # One mechanism, so smtplib's login reports the relay's own refusal.
        auth_exclude_mechanism=["LOGIN"],
        authenticator=_authenticator(logins),
    ).start()
    yield server, logins
    server.stop()


def test_starttls_and_login(
    env: Env, trusted: None, starttls: tuple[SmtpServer, list[str]]
) -> None:
    server, logins = starttls
    _one_email(env, server.port, security="starttls", username=LOGIN, password=PASSWORD)
    assert deliver(env).delivered == 1
    assert len(server.received) == 1 and logins == [LOGIN]


def test_a_wrong_password_is_retried_with_the_reason(
    env: Env, trusted: None, starttls: tuple[SmtpServer, list[str]]
) -> None:
    server, _ = starttls
    _one_email(env, server.port, security="starttls", username=LOGIN, password="wrong-password")
    assert deliver(env).retrying == 1
    (row,) = deliveries(env)
    assert "535" in (row.last_error or "") and server.received == []


def test_an_untrusted_certificate_is_refused(
    env: Env, starttls: tuple[SmtpServer, list[str]]
) -> None:
    server, logins = starttls
    _one_email(env, server.port, security="starttls", username=LOGIN, password=PASSWORD)
    assert deliver(env).retrying == 1
    (row,) = deliveries(env)
    assert "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")
    assert logins == [] and server.received == []
    assert POLICY.max_attempts > 1


def test_implicit_tls(env: Env, trusted: None, certificate: tuple[Path, Path]) -> None:
    server = SmtpServer(ssl_context=_server_context(certificate)).start()
    try:
        _one_email(env, server.port, security="tls")
        assert deliver(env).delivered == 1
        assert len(server.received) == 1
    finally:
        server.stop()
