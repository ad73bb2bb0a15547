"""Email through the standard library: email.mime builds, smtplib speaks SMTP.

One connection serves a whole batch of one relay. A dropped connection is reopened once; if the
relay stays unreachable the rest of the batch fails at once (each message is retried later)
instead of waiting out one timeout per message.

Messages are built with the classic email.mime classes: several times cheaper than
EmailMessage's header registry (which matters at hundreds of messages a second), and the body
parts of one event are built once and shared by all its recipients. Header values are
single-line by construction (subjects are squeezed, addresses validated).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import charset as email_charset
from email import policy
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr

from openpim.notifications.webhooks import SendResult

MAX_ERROR = 300
# Lines up to RFC 5322's 998 characters: long subjects stay on one line.
_POLICY = policy.compat32.clone(max_line_length=998, linesep="\r\n")
# Quoted-printable keeps the text readable in raw form; base64 is email's utf-8 default.
_UTF8 = email_charset.Charset("utf-8")
_UTF8.body_encoding = email_charset.QP
_PART_CACHE_SIZE = 64


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str | None
    password: str | None
    from_address: str
    timeout: float = 15.0


@dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    event_id: str
    to: str
    subject: str
    text: str
    html: str
    event_type: str


def message_id(delivery_id: str, from_address: str) -> str:
    """Stable across retries: a receiver (or a mail client) drops the duplicates."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "openpim.invalid"
    return f"<{delivery_id}@{domain}>"


def _header(value: str) -> str | Header:
    """ASCII as is; anything else RFC 2047-encoded (relays need not speak SMTPUTF8)."""
    return value if value.isascii() else Header(value, "utf-8")


def _sender(from_address: str) -> str:
    name, address = parseaddr(from_address)
    return formataddr((name, address), charset="utf-8") if name else address


def _part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8)
    return part


def _parts(out: Outgoing) -> tuple[MIMENonMultipart, MIMENonMultipart]:
    return _part(out.text, "plain"), _part(out.html, "html")


def build(
    config: SmtpConfig,
    out: Outgoing,
    sent_at: datetime,
    parts: tuple[MIMENonMultipart, MIMENonMultipart] | None = None,
) -> bytes:
    msg = MIMEMultipart("alternative")
    # The documented compat32 way for non-ASCII headers; typeshed only knows str here.
    msg["Subject"] = _header(out.subject)  # type: ignore[assignment]
    msg["From"] = _sender(config.from_address)
    msg["To"] = out.to
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = message_id(out.delivery_id, config.from_address)
    # Tell auto-responders (out-of-office) not to answer a machine.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-OpenPIM-Event"] = out.event_type
    msg["X-OpenPIM-Delivery"] = out.delivery_id
    for part in parts or _parts(out):
        msg.attach(part)
    return msg.as_bytes(policy=_POLICY)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"SMTP {exc.smtp_code}: {' '.join(detail.split())}"[:MAX_ERROR]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = []
        for code, reason in exc.recipients.values():
            text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
            parts.append(f"SMTP {code}: {' '.join(text.split())}")
        return "recipient refused: " + "; ".join(parts)[:MAX_ERROR]
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:MAX_ERROR]


def _permanent(exc: BaseException) -> bool:
    """5xx replies mean the relay will never take this message as it is."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(
        exc, smtplib.SMTPAuthenticationError
    ):
        return exc.smtp_code >= 500
    return False


def connect(config: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    local = socket.gethostname() or "localhost"
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(
            config.host, config.port, local_hostname=local, timeout=config.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, local_hostname=local, timeout=config.timeout)
    try:
        smtp.ehlo()
        if config.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password or "")
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class SmtpSender:
    """Sends to one relay over one connection, opened lazily and reopened once if it drops."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self._down: str | None = None
        self._parts: dict[str, tuple[MIMENonMultipart, MIMENonMultipart]] = {}

    def send(self, out: Outgoing, sent_at: datetime) -> SendResult:
        if self._down is not None:
            return SendResult(False, self._down)
        parts = self._parts.get(out.event_id)
        if parts is None:
            if len(self._parts) >= _PART_CACHE_SIZE:
                self._parts.clear()
            parts = self._parts[out.event_id] = _parts(out)
        data = build(self.config, out, sent_at, parts)
        envelope_from = parseaddr(self.config.from_address)[1]
        error: BaseException | None = None
        for _ in (1, 2):
            if self._smtp is None:
                try:
                    self._smtp = connect(self.config)
                except (smtplib.SMTPException, OSError) as exc:
                    # Refused, timed out, TLS or login failed: the same for every message.
                    self._down = f"SMTP relay unusable: {_describe(exc)}"
                    return SendResult(False, self._down)
            try:
                self._smtp.sendmail(envelope_from, [out.to], data)
                return SendResult(True)
            except smtplib.SMTPServerDisconnected as exc:
                error = exc
            except smtplib.SMTPException as exc:
                return SendResult(False, _describe(exc), permanent=_permanent(exc))
            except OSError as exc:  # the socket broke mid-message
                error = exc
            self._smtp.close()
            self._smtp = None
        assert error is not None
        self._down = f"SMTP connection lost: {_describe(error)}"
        return SendResult(False, self._down)

    def close(self) -> None:
        if self._smtp is not None:
            _close(self._smtp)
            self._smtp = None


@contextmanager
def session(config: SmtpConfig) -> Iterator[SmtpSender]:
    sender = SmtpSender(config)
    try:
        yield sender
    finally:
        sender.close()
