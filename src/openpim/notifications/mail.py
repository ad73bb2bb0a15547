"""Email through the standard library: email.message builds, smtplib speaks SMTP.

One connection serves a whole batch of one relay. A dropped connection is reopened once; if the
relay stays unreachable the rest of the batch fails at once (each message is retried later)
instead of waiting out one timeout per message.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from openpim.notifications.webhooks import SendResult

MAX_ERROR = 300
# RFC 5322 allows 998 characters a line. Python folds at 78 by default, and folds a long
# subject right after "Subject:", which some parsers then show with a leading space.
_POLICY = policy.SMTP.clone(max_line_length=998)


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
    to: str
    subject: str
    text: str
    html: str
    event_type: str


def message_id(delivery_id: str, from_address: str) -> str:
    """Stable across retries: a receiver (or a mail client) drops the duplicates."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "openpim.invalid"
    return f"<{delivery_id}@{domain}>"


def build(config: SmtpConfig, out: Outgoing, sent_at: datetime) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = out.subject
    msg["From"] = config.from_address
    msg["To"] = Address(addr_spec=out.to)
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = message_id(out.delivery_id, config.from_address)
    # Tell auto-responders (out-of-office) not to answer a machine.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-OpenPIM-Event"] = out.event_type
    msg["X-OpenPIM-Delivery"] = out.delivery_id
    msg.set_content(out.text)
    msg.add_alternative(out.html, subtype="html")
    return msg


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

    def send(self, out: Outgoing, sent_at: datetime) -> SendResult:
        if self._down is not None:
            return SendResult(False, self._down)
        msg = build(self.config, out, sent_at)
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
                self._smtp.send_message(msg, from_addr=envelope_from, to_addrs=[out.to])
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
