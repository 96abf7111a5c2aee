"""`sealchain witness`: a member's validating peer, put together from a ledger home.

The home gives the peer what a member holds and trusts, none of it from the log: its own
cosigning key (`witnesses/<ORG>.pem`), the trust policy (the log's key, this witness's name),
and the genesis the consortium agreed on. The replica and the witness's memory of what it
cosigned live in the peer's own SQLite database (`witness/<ORG>/replica.db` under the home
unless told otherwise).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.home import Home
from ledger.service.app import import_apps
from ledger.service.node import LedgerNode, load_registry, open_engine
from ledger.witness.app import witness_app
from ledger.witness.follow import LogReader
from ledger.witness.peer import Peer
from ledger.witness.protocol import Witness
from ledger.witness.replica import Replica
from ledger.witness.state import DatabaseState


@dataclass
class WitnessService:
    name: str
    witness: Witness
    peer: Peer
    data: Path
    node: LedgerNode
    _thread: threading.Thread | None = None

    def app(self) -> FastAPI:
        return witness_app(self.witness, self.peer, self.node)

    def start_following(self, interval: float = 1.0) -> None:
        self._thread = threading.Thread(
            target=self.peer.follow, args=(interval,), name="sealchain-follow", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.peer.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.peer.reader.close()
        self.peer.replica.engine.dispose()


def open_witness(
    home_dir: Path,
    name: str,
    log_url: str,
    *,
    data: Path | None = None,
    passphrase: bytes | None = None,
    audit: bool = True,
) -> WitnessService:
    """The peer `name` of the consortium in `home_dir`, following the log at `log_url`.
    Raises ConfigError when the home does not make `name` a witness with its key."""
    home = Home(home_dir, passphrase)
    if not home.policy_path.exists() or not home.genesis_path.exists():
        raise ConfigError(f"{home.root} has no policy.txt and genesis.json: not a ledger home")
    policy = home.log_policy()
    if name not in policy.witnesses:
        known = ", ".join(sorted(policy.witnesses)) or "none"
        raise ConfigError(f"the trust policy names no witness {name!r} (witnesses: {known})")
    if not home.witness_key_path(name).exists():
        raise ConfigError(f"no cosigning key for {name}: {home.witness_key_path(name)} is missing")
    signer = home.witness_signer(name, policy.witnesses[name].name)
    if signer.vkey != policy.witnesses[name].vkey:
        raise ConfigError(
            f"{home.witness_key_path(name)} is not the key the trust policy names for {name}"
        )
    if not policy.logs:
        raise ConfigError("the trust policy names no log")
    data = data or home.root / "witness" / name
    data.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home.root, database_url=f"sqlite:///{(data / 'replica.db').resolve()}")
    # The apps the log runs: installed plugins and SEALCHAIN_EXTRA_APPS, as open_node loads them.
    registry = load_registry(import_apps(settings.extra_apps))
    engine = open_engine(settings, registry)
    genesis = home.genesis_path.read_bytes().rstrip(b"\n")
    replica = Replica(engine, registry, policy, genesis)
    peer = Peer(replica, LogReader(log_url), policy)
    if audit:
        peer.audit_replica(registry)
    origins = {log.name for log in policy.logs}
    witness = Witness(
        signer=signer,
        logs={origin: policy.logs_for_origin(origin) for origin in origins},
        state=DatabaseState(engine),
        clock=lambda: int(time.time()),
        check_root=peer.check_root,
    )
    node = LedgerNode(settings, home, registry, engine, None)  # reads only: no log key
    return WitnessService(name, witness, peer, data, node)
