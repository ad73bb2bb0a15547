from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.servers import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()
