"""Settings, read from SEALCHAIN_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEALCHAIN_", extra="ignore")

    home: Path = Field(Path(".sealchain"), description="directory with keys, policy and database")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///$SEALCHAIN_HOME/ledger.db"
    )
    skew_seconds: int = Field(300, ge=1, le=86400, description="accepted |ts - server time|")
    block_max_entries: int = Field(1000, ge=1, le=10000, description="cut a block at this many")
    block_max_wait_ms: int = Field(5, ge=0, le=10000, description="or after this long")
    key_passphrase: SecretStr | None = Field(None, description="passphrase of PEM private keys")
    max_batch_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="largest POST /v1/entries/batch body"
    )
    max_request_bytes: int = Field(1024 * 1024, ge=1024, description="largest other POST body")
    opentelemetry: bool = Field(
        False,
        description="FastAPI's OpenTelemetry spans, metrics and logs (Prometheus /metrics and "
        "JSON access logs are always on); off by default: checking for it costs every request",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s?#]+(/[^\s?#]*)?$",
        description="base URL printed into QR codes and links, the resolver clients reach "
        "(e.g. https://trace.example.cn); default: each request's own base, from its Host "
        "header, which suits a demo but lets a client choose what a printed label points at",
    )
    extra_apps: str = Field(
        "", description="comma-separated module:attribute App objects to load besides plugins"
    )

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'ledger.db').resolve()}"

    def passphrase(self) -> bytes | None:
        return self.key_passphrase.get_secret_value().encode() if self.key_passphrase else None
