"""The home directory: keys (PKCS#8 PEM, mode 0600), trust policy, members file, genesis.

ledger.db            SQLite database (the default store)
log.pem              the log's checkpoint signing key
keys/<org>.pem       each member org's signing key (a demo home holds them all)
witnesses/<org>.pem  witness cosigning keys (signature type 0x04)
policy.txt           C2SP tlog-policy: log key, witnesses, quorum
members.txt          <org> <vkey> [revoked-at-index], written from the ledger
genesis.json         the signed genesis envelope (block 0)
pki/                 the timestamping CA and TSA, members' document signers (ledger.timestamping)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ledger.core.keys import SIG_COSIGNATURE_V1, SIG_ED25519, Signer
from ledger.core.policy import (
    LogPolicy,
    MemberDirectory,
    TrustPolicy,
    parse_log_policy,
    parse_members,
)
from ledger.errors import ConfigError, NoteError, PolicyError
from ledger.timestamping.pki import (
    DocumentSigner,
    Pki,
    load_or_create_pki,
    load_or_issue_signer,
)
from ledger.timestamping.rfc3161 import TimeStampAuthority

KEY_NAMESPACE_DEFAULT = "sealchain.demo"
T = TypeVar("T")


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file created with mode 0600 (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_public(path: Path, text: str) -> None:
    """Atomically replace a public text file (policy, members, genesis)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name: several writers (API workers) may replace the file at once.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_text_file(path: Path) -> str:
    """A text file the user points us at; raises ConfigError naming it if it is not UTF-8.

    (OSError, for a file that cannot be opened, carries the name already.)
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from e


def read_policy_file(path: Path, parse: Callable[[str], T]) -> T:
    """Read and parse policy.txt or members.txt; raises ConfigError naming the file."""
    try:
        return parse(read_text_file(path))
    except PolicyError as e:
        raise ConfigError(f"{path}: {e.detail}") from e


@dataclass(frozen=True)
class Home:
    root: Path
    passphrase: bytes | None = None

    @property
    def db_path(self) -> Path:
        return self.root / "ledger.db"

    @property
    def policy_path(self) -> Path:
        return self.root / "policy.txt"

    @property
    def members_path(self) -> Path:
        return self.root / "members.txt"

    @property
    def genesis_path(self) -> Path:
        return self.root / "genesis.json"

    @property
    def log_key_path(self) -> Path:
        return self.root / "log.pem"

    def org_key_path(self, org: str) -> Path:
        return self.root / "keys" / f"{org}.pem"

    def witness_key_path(self, org: str) -> Path:
        return self.root / "witnesses" / f"{org}.pem"

    def exists(self) -> bool:
        return self.genesis_path.exists()

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    def consortium(self) -> str:
        """The consortium id from genesis.json (names the CA of a home made before pki/)."""
        try:
            genesis = json.loads(read_text_file(self.genesis_path))
            return str(genesis["body"]["consortium"])
        except (OSError, ValueError, KeyError, TypeError):
            return self.root.name

    def pki(self, consortium: str | None = None) -> Pki:
        """The home's CA and TSA (ledger.timestamping.pki), made on first use by a home that
        predates them; `init` makes them with the rest."""
        return load_or_create_pki(
            self.pki_dir, consortium or self.consortium(), self.passphrase, write_private
        )

    def timestamp_authority(self) -> TimeStampAuthority:
        pki = self.pki()
        return TimeStampAuthority(pki.tsa_key, pki.tsa_cert, pki.ca_cert)

    def document_signer(self, org: str, name: str) -> DocumentSigner:
        """Member `org`'s document-signing key and certificate (issued by the home's CA on
        first use): what a PDF certificate the node makes for that member is signed with."""
        return load_or_issue_signer(
            self.pki_dir / "signers", self.pki(), org, name, self.passphrase, write_private
        )

    def save_key(self, path: Path, signer: Signer) -> None:
        write_private(path, signer.to_pem(self.passphrase))

    def _load(self, path: Path, name: str, sig_type: int) -> Signer:
        if not path.exists():
            raise ConfigError(f"no key at {path}; run `sealchain init` or copy the key there")
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
        try:
            return Signer.from_pem(name, path.read_bytes(), self.passphrase, sig_type)
        except NoteError as e:
            raise ConfigError(e.detail) from e

    def log_policy(self) -> LogPolicy:
        """The home's policy.txt; raises ConfigError naming the file if it is missing or bad."""
        if not self.policy_path.exists():
            raise ConfigError(f"no trust policy at {self.policy_path}")
        return read_policy_file(self.policy_path, parse_log_policy)

    def trust_policy(self) -> TrustPolicy:
        """policy.txt and members.txt (none yet: no member keys); ConfigError names a bad file."""
        log = self.log_policy()
        members = (
            read_policy_file(self.members_path, parse_members)
            if self.members_path.exists()
            else MemberDirectory()
        )
        return TrustPolicy(log, members)

    def log_signer(self) -> Signer:
        logs = self.log_policy().logs
        if len(logs) != 1:
            raise ConfigError("the home's policy must name exactly one log")
        signer = self._load(self.log_key_path, logs[0].name, SIG_ED25519)
        if signer.vkey != logs[0].vkey:
            raise ConfigError("log.pem does not match the log key in policy.txt")
        return signer

    def org_signer(self, org: str, key_name: str) -> Signer:
        return self._load(self.org_key_path(org), key_name, SIG_ED25519)

    def member_signer(self, org: str) -> Signer:
        """keys/<org>.pem named as members.txt names the matching key (the name is in its id)."""
        path = self.org_key_path(org)
        probe = self._load(path, "probe", SIG_ED25519)
        for key in self.trust_policy().members.keys:
            if key.org == org and key.verifier.public_key == probe.verifier.public_key:
                return self._load(path, key.verifier.name, SIG_ED25519)
        raise ConfigError(f"{path} is not a key of {org!r} in {self.members_path}")

    def witness_signer(self, org: str, key_name: str) -> Signer:
        return self._load(self.witness_key_path(org), key_name, SIG_COSIGNATURE_V1)

    def write_members(self, directory: MemberDirectory) -> None:
        write_public(self.members_path, directory.to_text())
