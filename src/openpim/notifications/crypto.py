"""Channel secrets at rest: sealed with a key derived from the server's secret key.

SMTP passwords and webhook secrets must be readable by the worker (it logs in and signs), so
they cannot be hashed; sealing them keeps a database dump or backup from handing them out.
Rotating OPENPIM_SECRET_KEY makes stored secrets unreadable: deliveries then fail with a
clear error until an administrator enters the secrets again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openpim.config import Settings
from openpim.kit.errors import ValidationFailed

_INFO = b"openpim notification channel secrets v1"


class SecretUnreadable(Exception):
    """A stored secret was sealed under another server key."""


def _fernet(settings: Settings) -> Fernet:
    key = settings.secret_key.get_secret_value()
    if not key:
        raise ValidationFailed(
            "Set OPENPIM_SECRET_KEY before storing notification secrets: they are encrypted "
            "with it.",
            code="secret_key_not_set",
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(settings: Settings, sealed: str) -> str:
    try:
        return _fernet(settings).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValidationFailed):
        raise SecretUnreadable(
            "the stored channel secret cannot be decrypted with the current OPENPIM_SECRET_KEY; "
            "enter the secret again"
        ) from None
