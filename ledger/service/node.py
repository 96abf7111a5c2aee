"""Opening a ledger: engine, migrations, apps and sequencer wired from Settings and a home."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from ledger.config import Settings
from ledger.core.canonical import canonical_bytes
from ledger.core.keys import Signer, parse_vkey
from ledger.core.policy import LogPolicy, MemberDirectory, MemberKey
from ledger.errors import ConfigError, NotFound
from ledger.home import Home, write_public
from ledger.service.app import App, Registry, discover_apps, import_apps
from ledger.service.bundle_cache import BundleCache
from ledger.service.consortium import (
    ConsortiumPlan,
    generate_keys,
    genesis_envelope,
    policy_text,
)
from ledger.service.membership import GOVERNANCE_APP
from ledger.service.pipeline import Validator
from ledger.service.sequencer import Sequencer
from ledger.storage.engine import make_engine, read_transaction
from ledger.storage.repository import Repository
from ledger.timestamping.rfc3161 import TimeStampAuthority

T = TypeVar("T")
STANDBY_RETRY_SECONDS = 5.0  # after a standby failed, reads go to the primary this long
log = logging.getLogger("sealchain.node")


def load_registry(extra: Iterable[App] = (), *, discover: bool = True) -> Registry:
    """The ledger's own governance app, then installed apps, then `extra` (tests, embedders)."""
    return Registry([GOVERNANCE_APP, *(discover_apps() if discover else []), *extra])


def open_engine(settings: Settings, registry: Registry) -> Engine:
    """Engine with the ledger schema migrated and app projection tables created."""
    # Imported here: alembic takes about 0.1 s to import, which commands that open no database
    # (help, verify, keys) need not pay.
    from ledger.storage.migrate import migrate

    engine = make_engine(settings.db_url())
    migrate(engine)
    for metadata in registry.projection_metadata():
        # Projections are derived state: created as declared, rebuilt by `sealchain reindex`.
        metadata.create_all(engine)
    return engine


@dataclass
class LedgerNode:
    settings: Settings
    home: Home
    registry: Registry
    engine: Engine  # the primary: migrated, written, and the authority on what exists
    sequencer: Sequencer | None  # None when opened read-only (no log key needed)
    # SEALCHAIN_READ_DATABASE_URL's engine, a hot standby: never migrated, never written.
    standby_engine: Engine | None = None
    _secrets: dict[str, bytes] = field(default_factory=dict, repr=False)
    _standby_retry_at: float = field(default=0.0, repr=False)

    @property
    def read_engine(self) -> Engine:
        """Where read-only routes read: the standby when one is configured, else the primary.

        A standby lags the primary (by milliseconds when healthy): read it through
        read_with_fallback, never for something that is then written or must be the latest.
        """
        return self.engine if self.standby_engine is None else self.standby_engine

    def read_with_fallback(self, fn: Callable[[Connection], T]) -> T:
        """fn(conn) in a read transaction on the read engine; if that raises NotFound, or the
        standby fails (down, or a query cancelled by its WAL replay), fn runs again in a read
        transaction on the primary, whose answer (or NotFound) stands.

        fn must only read: it may run twice. Without a standby it runs once, on the primary.
        Lag can still show an older state than the primary's (an older latest checkpoint, a
        member list without the newest member), never a missing one presented as absent.
        """
        standby = self.standby_engine
        if standby is not None and time.monotonic() >= self._standby_retry_at:
            try:
                with read_transaction(standby) as conn:
                    return fn(conn)
            except NotFound:
                # Committed on the primary but not replayed here yet, or truly absent: only
                # the primary can tell, and a 404 must never be the standby's lag.
                pass
            except OperationalError as e:
                # Reads are served either way: from the primary, which can carry them, while
                # the standby is given a few seconds before the next try.
                self._standby_retry_at = time.monotonic() + STANDBY_RETRY_SECONDS
                log.warning("standby read failed, reading from the primary: %s", e.orig or e)
        with read_transaction(self.engine) as conn:
            return fn(conn)

    @cached_property
    def log_policy(self) -> LogPolicy:
        """The home's tlog policy, read once per process (pages verify against it per request)."""
        return self.home.log_policy()

    @cached_property
    def bundles(self) -> BundleCache:
        """Page bundles from this process's snapshot (ledger.service.bundle_cache)."""
        return BundleCache(self.log_policy)

    @cached_property
    def timestamp_authority(self) -> TimeStampAuthority:
        """The home's RFC 3161 TSA, loaded once per process."""
        return self.home.timestamp_authority()

    def close(self) -> None:
        self.engine.dispose()
        if self.standby_engine is not None:
            self.standby_engine.dispose()

    def derived_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for `purpose` that every process serving this ledger derives alike
        and nobody without the log key can: SHA-256 of the log key's (deterministic) Ed25519
        signature on a domain-separated message. The signature itself never leaves here."""
        if self.sequencer is None:
            raise ConfigError("a secret derives from the log key, which a read-only node lacks")
        if purpose not in self._secrets:
            message = b"sealchain/derived-secret/v1\n" + purpose.encode()
            self._secrets[purpose] = hashlib.sha256(
                self.sequencer.log_signer.sign(message)
            ).digest()
        return self._secrets[purpose]

    def write_members_file(self) -> None:
        with read_transaction(self.engine) as conn:
            self.home.write_members(member_directory(conn))


def open_node(
    settings: Settings, *, extra_apps: Iterable[App] = (), writable: bool = True
) -> LedgerNode:
    home = Home(settings.home, settings.passphrase())
    if not home.policy_path.exists():
        raise ConfigError(f"no ledger home at {home.root}: run `sealchain init --home {home.root}`")
    database = home.db_path
    if settings.database_url is None and home.genesis_path.exists() and not database.exists():
        # Opening it would create an empty database, and reindex would then rewrite
        # members.txt from nothing: the log is gone, and only a backup can bring it back.
        raise ConfigError(
            f"{home.root} holds a ledger (genesis.json) but its database {database} is "
            "missing: restore it from a backup"
        )
    named = [a for a in import_apps(settings.extra_apps) if a not in list(extra_apps)]
    registry = load_registry([*named, *extra_apps])
    engine = open_engine(settings, registry)
    standby = None
    if settings.read_database_url:
        # Not migrated: a physical standby replays the primary's schema with its data.
        standby = make_engine(settings.read_database_url, read_only=True)
    node = LedgerNode(settings, home, registry, engine, None, standby)
    if writable:
        validator = Validator(registry, skew_seconds=settings.skew_seconds)
        node.sequencer = Sequencer(
            engine, registry, validator, home.log_signer(), on_governance=node.write_members_file
        )
    return node


def member_directory(conn: Connection) -> MemberDirectory:
    """members.txt content as the ledger's governance entries define it now."""
    keys = [MemberKey(k.org, parse_vkey(k.vkey), k.revoked_at) for k in Repository(conn).all_keys()]
    return MemberDirectory(keys)


def init_home(
    settings: Settings, plan: ConsortiumPlan, *, extra_apps: Iterable[App] = ()
) -> tuple[LedgerNode, dict[str, Signer]]:
    """Create keys (0600), genesis, policy.txt, members.txt and the database with block 0.

    Refuses to touch a home that already has a genesis. Returns the node and org signers.
    """
    home = Home(settings.home, settings.passphrase())
    if home.exists():
        raise ConfigError(f"{home.root} already holds a ledger (genesis.json exists)")
    home.root.mkdir(parents=True, exist_ok=True)
    keys = generate_keys(plan)
    home.save_key(home.log_key_path, keys.log)
    for org, signer in keys.orgs.items():
        home.save_key(home.org_key_path(org), signer)
    for org, signer in keys.witnesses.items():
        home.save_key(home.witness_key_path(org), signer)
    write_public(home.policy_path, policy_text(plan, keys))
    home.pki(plan.consortium)  # the timestamping CA and TSA (docs/timestamping.md)
    genesis = genesis_envelope(plan, keys)
    node = open_node(settings, extra_apps=extra_apps)
    assert node.sequencer is not None
    node.sequencer.commit_genesis(genesis.raw)
    write_public(home.genesis_path, canonical_bytes(genesis.as_dict()).decode() + "\n")
    node.write_members_file()
    return node, keys.orgs
