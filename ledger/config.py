"""Settings, read from SEALCHAIN_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.home import Home


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
        description="base URL printed into QR codes and links, the resolver clients reach "
        "(e.g. https://trace.example.cn); default: each request's own base, from its Host "
        "header, which suits a demo but lets a client choose what a printed label points at",
    )
    extra_apps: str = Field(
        "", description="comma-separated module:attribute App objects to load besides plugins"
    )

    @field_validator("public_url")
    @classmethod
    def _public_base(cls, value: str | None) -> str | None:
        """A bare http(s) base: printed on labels, it must say plainly where a phone goes."""
        if value is None:
            return None
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError as e:
            raise ValueError(f"public_url {value!r} has an invalid port") from e
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
            or parts.query
            or parts.fragment
            or any(c.isspace() or c in '\\"<>' for c in value)
        ):
            raise ValueError(
                f"public_url {value!r} must be a bare http(s) base such as "
                "https://trace.example.cn (no user, query, fragment, spaces or quotes)"
            )
        return value

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Home(self.home).db_path.resolve()}"

    def passphrase(self) -> bytes | None:
        return self.key_passphrase.get_secret_value().encode() if self.key_passphrase else None
