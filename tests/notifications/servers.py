"""Real servers on loopback for the delivery tests: an SMTP server (aiosmtpd) and an HTTP
webhook receiver that checks every signature. Both can be scripted to fail."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from openpim.notifications import webhooks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        reply = self.server.next_reply()
        if reply is not None:
            return reply
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message,
                    envelope.original_content,
                )
            )
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; stop() and start() again on the same port to simulate an outage."""

    def __init__(self, **controller: Any) -> None:
        # Passed to aiosmtpd's Controller: tls_context, require_starttls, ssl_context, ...
        self.controller_kwargs = controller
        self.port = free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        # Replies to give instead of accepting, one per message ("451 ..." or "550 ...").
        self.replies: list[str] = []
        self._controller: Controller | None = None

    def next_reply(self) -> str | None:
        with self.lock:
            return self.replies.pop(0) if self.replies else None

    def start(self) -> SmtpServer:
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **self.controller_kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


@dataclass
class Hit:
    delivery_id: str
    event: str
    body: bytes
    signature_ok: bool
    status: int


@dataclass
class Receiver:
    """Webhook receiver. `script` says what to do with each request, in order: an HTTP status,
    or "timeout" (answer only after the client gave up); after the script it answers 200."""

    secret: str
    script: list[int | str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    delay: float = 1.5
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/pim"

    def next(self) -> int | str:
        with self.lock:
            return self.script.pop(0) if self.script else 200

    def delivered(self) -> list[Hit]:
        return [h for h in self.hits if h.status == 200]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            ok = webhooks.verify(
                receiver.secret,
                self.headers.get("X-OpenPIM-Timestamp", ""),
                body,
                self.headers.get("X-OpenPIM-Signature", ""),
                now=time.time(),
                tolerance=10**10,  # the sender's clock is frozen in the tests
            )
            action = receiver.next()
            status = 401 if not ok else (action if isinstance(action, int) else 599)
            with receiver.lock:
                receiver.hits.append(
                    Hit(
                        self.headers.get("X-OpenPIM-Delivery", ""),
                        self.headers.get("X-OpenPIM-Event", ""),
                        body,
                        ok,
                        status,  # 599: answered only after the client gave up
                    )
                )
            if status == 599:
                time.sleep(receiver.delay)
            try:
                self.send_response(200 if status == 599 else status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client timed out and closed the connection

    return Handler


class WebhookServer:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        self.httpd.daemon_threads = True
        receiver.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> WebhookServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
