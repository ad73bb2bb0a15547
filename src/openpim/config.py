"""Configuration: one Settings object, read from OPENPIM_* environment variables (or .env)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENPIM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./openpim.db",
        description="SQLAlchemy URL. sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Server secret (HMAC of session CSRF tokens, webhook signing). Set in production.",
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
    audit_retention_days: int | None = Field(
        default=None, description="Keep audit events this many days; empty keeps everything"
    )
    log_level: str = Field(default="INFO")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
