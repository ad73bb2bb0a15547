"""Secrets the server must read back, sealed at rest with a key derived from the server key.

SMTP passwords, webhook secrets and TOTP secrets cannot be hashed: the server needs them in
clear to log in, sign or compute a code. Sealing them keeps a database dump or backup from
handing them out. Each use derives its own key from OPENPIM_SECRET_KEY (HKDF-SHA256 with a
per-use label), so a value sealed for one use cannot be passed off as another. Fernet
authenticates what it decrypts: a value sealed under another server key, or altered, is
refused (`Unreadable`), never misread.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openpim.config import Settings
from openpim.kit.errors import ValidationFailed


class Unreadable(Exception):
    """A sealed value that the current server key cannot open (another key, or altered)."""


@lru_cache(maxsize=32)
def _fernet(key: str, info: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


@dataclass(frozen=True)
class Sealer:
    """Seals and opens one kind of secret. `info` is the key-derivation label (never change it
    for existing data); `what` names the secrets in error messages."""

    info: bytes
    what: str

    def _key(self, settings: Settings) -> str | None:
        return settings.secret_key.get_secret_value() or None

    def seal(self, settings: Settings, secret: str) -> str:
        key = self._key(settings)
        if key is None:
            raise ValidationFailed(
                f"Set OPENPIM_SECRET_KEY before storing {self.what}: they are encrypted with it.",
                code="secret_key_not_set",
            )
        return _fernet(key, self.info).encrypt(secret.encode("utf-8")).decode("ascii")

    def unseal(self, settings: Settings, sealed: str) -> str:
        key = self._key(settings)
        try:
            if key is None:
                raise InvalidToken
            return _fernet(key, self.info).decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise Unreadable(
                f"stored {self.what} cannot be decrypted with the current OPENPIM_SECRET_KEY"
            ) from None
