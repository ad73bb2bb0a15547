"""Channel secrets at rest, sealed with the server key (openpim.kit.sealing does the work).

SMTP passwords and webhook secrets must be readable by the worker (it logs in and signs), so
they cannot be hashed; sealing them keeps a database dump or backup from handing them out.
Rotating OPENPIM_SECRET_KEY makes stored secrets unreadable: deliveries then fail with a
clear error until an administrator enters the secrets again.
"""

from __future__ import annotations

from openpim.config import Settings
from openpim.kit.sealing import Sealer, Unreadable

_CHANNELS = Sealer(info=b"openpim notification channel secrets v1", what="notification secrets")


class SecretUnreadable(Exception):
    """A stored secret was sealed under another server key."""


def seal(settings: Settings, secret: str) -> str:
    return _CHANNELS.seal(settings, secret)


def unseal(settings: Settings, sealed: str) -> str:
    try:
        return _CHANNELS.unseal(settings, sealed)
    except Unreadable:
        raise SecretUnreadable(
            "the stored channel secret cannot be decrypted with the current OPENPIM_SECRET_KEY; "
            "enter the secret again"
        ) from None
