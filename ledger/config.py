"""Settings, read from SEALCHAIN_* environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ledger.home import Home

Network = IPv4Network | IPv6Network
DEFAULT_METRICS_ALLOW = "127.0.0.0/8,::1"
DATABASE_BACKENDS = ("sqlite", "postgresql")  # the write lock is written for these two


@lru_cache(maxsize=16)
def networks(text: str) -> tuple[Network, ...]:
    """Parse a comma-separated list of IP addresses and CIDR networks; raises ValueError.

    Host bits set under the mask (10.1.2.3/8) are refused rather than guessed at.
    """
    parsed: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            parsed.append(ip_network(item, strict=True))
        except ValueError as e:
            raise ValueError(
                f"{item!r} is not an IP address or CIDR network such as 10.0.0.0/8 or ::1 ({e})"
            ) from e
    return tuple(parsed)


def address_allowed(host: str | None, allowed: tuple[Network, ...]) -> bool:
    """Whether a client address (as the ASGI server reports it) lies in one of `allowed`.

    Fails closed: no address (a Unix socket) or a name that is not an IP address is refused.
    """
    if host is None:
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return any(address in network for network in allowed)


def check_database_url(value: str) -> None:
    """Raise ValueError unless `value` is a SQLAlchemy URL for SQLite or PostgreSQL whose
    synchronous driver is installed. The message never repeats the URL (it may hold a password)."""
    try:
        url = make_url(value)
    except ArgumentError as e:
        raise ValueError(
            "not a database URL; expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from e
    backend = url.get_backend_name()
    if backend not in DATABASE_BACKENDS:
        raise ValueError(
            f"Sealchain stores its ledger in SQLite or PostgreSQL, not {backend!r}; expected "
            "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        )
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError as e:
        raise ValueError(f"SQLAlchemy has no driver {url.drivername!r}") from e
    if dialect.is_async:
        raise ValueError(f"{url.drivername} is an asyncio driver; use postgresql+psycopg")
    try:
        dialect.import_dbapi()
    except ImportError as e:
        raise ValueError(f"the driver for {url.drivername} is not installed ({e})") from e


def witness_url_map(text: str) -> dict[str, str]:
    """`name=http://host:port,...` as a dict; ValueError for an item that is not NAME=URL."""
    found: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"{item!r} is not NAME=http(s)://HOST:PORT")
        found[name] = url
    return found


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEALCHAIN_", extra="ignore")

    home: Path = Field(Path(".sealchain"), description="directory with keys, policy and database")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///$SEALCHAIN_HOME/ledger.db"
    )
    read_database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of a hot standby of the database (PostgreSQL streaming "
        "replication) that read-only routes are served from; what lag leaves missing there is "
        "read from the primary (docs/deploy.md); default: every read on the primary",
    )
    skew_seconds: int = Field(300, ge=1, le=86400, description="accepted |ts - server time|")
    block_max_entries: int = Field(1000, ge=1, le=10000, description="cut a block at this many")
    block_max_wait_ms: int = Field(
        1, ge=0, le=10000, description="or this long after its first entry arrived"
    )
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
    metrics_allow: str = Field(
        DEFAULT_METRICS_ALLOW,
        description="comma-separated IP addresses and CIDR networks that may read /metrics "
        "(default loopback only); others get 404 not-found; empty: nobody",
    )
    witness_urls: str = Field(
        "",
        description="comma-separated NAME=URL: where the log sends checkpoints to the trust "
        "policy's witnesses (add-checkpoint), over the URLs policy.txt gives; empty: those",
    )
    writer_socket: str | None = Field(
        None,
        description="Unix socket of the block writer that commits this worker's entries; "
        "`sealchain serve --workers N` sets it for its workers; default: the worker commits "
        "its own blocks",
    )
    push_checkpoints: bool = Field(
        True,
        description="send checkpoints to the witnesses from the process that commits blocks "
        "(a lone worker, or the block writer of serve --workers N), those of its blocks, at once",
    )

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """Refuse at startup a URL Sealchain cannot store its ledger in, before any file is
        written (`init` would otherwise leave keys behind a failed database)."""
        if not value:
            return None
        check_database_url(value)
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _metrics_networks(cls, value: str) -> str:
        networks(value)  # raises ValueError naming the entry that is not an address or network
        return value

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

    @field_validator("witness_urls")
    @classmethod
    def _witness_urls(cls, value: str) -> str:
        witness_url_map(value)  # raises ValueError naming the item that is not NAME=URL
        return value

    def witness_url_overrides(self) -> dict[str, str]:
        return witness_url_map(self.witness_urls)

    def metrics_networks(self) -> tuple[Network, ...]:
        """SEALCHAIN_METRICS_ALLOW as networks (a single address is a /32 or /128)."""
        return networks(self.metrics_allow)

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Home(self.home).db_path.resolve()}"

    def passphrase(self) -> bytes | None:
        return self.key_passphrase.get_secret_value().encode() if self.key_passphrase else None
