"""Configuration: one Settings object, read from OPENPIM_* environment variables (or .env)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENPIM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./openpim.db",
        description="SQLAlchemy URL. sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Server secret (CSRF tokens, encrypted channel secrets). Set in production.",
    )
    base_url: str = Field(default="http://127.0.0.1:8000", description="Public URL of the portal")
    run_worker_in_server: bool = Field(
        default=True, description="Run the expiry/outbox worker inside each server process"
    )
    worker_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    worker_batch_size: int = Field(default=500, ge=1, le=10_000)
    session_idle_timeout: timedelta = Field(default=timedelta(minutes=30))
    session_absolute_timeout: timedelta = Field(default=timedelta(hours=12))
    mfa_freshness: timedelta = Field(
        default=timedelta(minutes=15),
        description="How long a TOTP proof in a sign-in session counts for activation",
    )
    sign_in_failures_per_user: int = Field(default=5, ge=1)
    sign_in_failures_per_address: int = Field(default=10, ge=1)
    sign_in_failure_window: timedelta = Field(default=timedelta(minutes=5))
    approval_timeout: timedelta = Field(default=timedelta(hours=24))
    audit_head_log_interval: timedelta = Field(
        default=timedelta(minutes=15),
        ge=timedelta(0),
        description="How often the background loops log the audit chain head (SEQ:HASH) when "
        "it moved, for a log shipper to keep as anchors; PT0S turns it off",
    )
    log_level: str = Field(default="INFO")
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto `openpim serve` "
        "believes (IP addresses or networks, comma-separated; * for any; empty for none): the "
        "client address they give is the one rate limits count and the audit records",
    )
    secret_key_file: str = Field(
        default=".openpim-secret",
        description="Where a generated secret key is kept when OPENPIM_SECRET_KEY is not set",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        """uvicorn would keep a mistyped entry as a name no client ever has, silently; a proxy
        that is not believed makes every user share its address (and its sign-in limit)."""
        entries = [e.strip() for e in value.split(",") if e.strip()]
        if entries == ["*"]:
            return "*"
        for entry in entries:
            try:
                if "/" in entry:
                    ipaddress.ip_network(entry, strict=True)
                else:
                    ipaddress.ip_address(entry)
            except ValueError as exc:
                raise ValueError(
                    f"{entry!r} is not an IP address or network ({exc}); give addresses or "
                    "networks such as 10.0.0.0/8, comma-separated, or * for any"
                ) from None
        return ",".join(entries)


def with_secret_key(settings: Settings) -> Settings:
    """Settings with a usable secret key.

    An empty key would make CSRF tokens forgeable and channel secrets unencryptable, so when
    none is configured one is generated once and kept in `secret_key_file` (mode 0600), shared
    by every process started from the same directory. Several hosts must set
    OPENPIM_SECRET_KEY to one value.
    """
    if settings.secret_key.get_secret_value():
        return settings
    path = Path(settings.secret_key_file)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    return settings.model_copy(update={"secret_key": SecretStr(key)})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
