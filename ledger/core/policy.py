"""Trust policy (C2SP tlog-policy plus members.txt) and write policies (roles).

Both kinds fail closed: an unknown record type has no allowed roles, a quorum that names no
witness is unsatisfied, a member key outside its validity is not a key of that org.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ledger.core.keys import SIG_COSIGNATURE_V1, SIG_ED25519, Verifier, parse_vkey
from ledger.errors import NoteError, PolicyError

# --- C2SP tlog-policy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass
class LogPolicy:
    """Logs, witnesses and a quorum, as in c2sp.org/tlog-policy."""

    logs: list[Verifier] = field(default_factory=list)
    witnesses: dict[str, Verifier] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = "none"
    witness_urls: dict[str, str] = field(default_factory=dict)
    """Where each witness takes add-checkpoint requests (the spec's optional URL), if given."""

    def logs_for_origin(self, origin: str) -> list[Verifier]:
        """Every log key named `origin`: a log that rotates its key is listed once per key, and
        a checkpoint signed by any of them is the log's. Empty if the policy has no such log."""
        return [log for log in self.logs if log.name == origin]

    def quorum_met(self, cosigned: set[str]) -> bool:
        """Whether witnesses (by policy name) in `cosigned` satisfy the quorum."""
        return self._satisfied(self.quorum, cosigned)

    def _satisfied(self, name: str, cosigned: set[str]) -> bool:
        if name == "none":
            return True
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        hits = sum(1 for m in group.members if self._satisfied(m, cosigned))
        return hits >= group.threshold

    def to_text(self) -> str:
        lines = [f"log {log.vkey}" for log in self.logs]
        lines += [
            " ".join(filter(None, ("witness", name, w.vkey, self.witness_urls.get(name))))
            for name, w in self.witnesses.items()
        ]
        for g in self.groups.values():
            lines.append(f"group {g.name} {g.threshold} {' '.join(g.members)}")
        lines.append(f"quorum {self.quorum}")
        return "\n".join(lines) + "\n"


def _vkey(text: str, want_type: int, what: str) -> Verifier:
    try:
        verifier = parse_vkey(text)
    except NoteError as e:
        raise PolicyError(f"{what}: {e.detail}") from e
    if verifier.sig_type != want_type:
        raise PolicyError(f"{what} key must have signature type 0x{want_type:02x}")
    return verifier


def _words(line: str) -> list[str]:
    # The spec's whitespace is ASCII space and tab only; other octets belong to names.
    return [w for w in re.split(r"[ \t]+", line) if w]


def parse_log_policy(text: str) -> LogPolicy:
    """Parse a tlog-policy file; raises PolicyError with the line number at fault."""
    policy = LogPolicy()
    quorum: str | None = None
    defined: set[str] = {"none"}
    used_in_groups: set[str] = set()
    keys_seen: set[bytes] = set()
    for number, raw in enumerate(text.split("\n"), start=1):
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in raw):
            raise PolicyError(f"line {number}: control characters are not allowed")
        words = _words(raw)
        if not words or words[0].startswith("#"):
            continue
        where = f"line {number}"
        keyword, args = words[0], words[1:]
        if keyword == "log" and len(args) in (1, 2):
            log = _vkey(args[0], SIG_ED25519, f"{where}: log")
            if log.public_key in keys_seen:
                raise PolicyError(f"{where}: duplicate key")
            keys_seen.add(log.public_key)
            policy.logs.append(log)
        elif keyword == "witness" and len(args) in (2, 3):
            name = args[0]
            if name in defined:
                raise PolicyError(f"{where}: name {name!r} is already defined")
            witness = _vkey(args[1], SIG_COSIGNATURE_V1, f"{where}: witness")
            if witness.public_key in keys_seen:
                raise PolicyError(f"{where}: duplicate key")
            keys_seen.add(witness.public_key)
            policy.witnesses[name] = witness
            if len(args) == 3:
                if not args[2].startswith(("http://", "https://")):
                    raise PolicyError(f"{where}: a witness URL must be http(s), not {args[2]!r}")
                policy.witness_urls[name] = args[2]
            defined.add(name)
        elif keyword == "group" and len(args) >= 3:
            name, threshold_text, members = args[0], args[1], tuple(args[2:])
            if name in defined:
                raise PolicyError(f"{where}: name {name!r} is already defined")
            for m in members:
                if m not in defined or m == "none":
                    raise PolicyError(f"{where}: group member {m!r} is not defined above")
                if m in used_in_groups:
                    raise PolicyError(f"{where}: {m!r} is already a member of a group")
            used_in_groups.update(members)
            if threshold_text == "all":
                threshold = len(members)
            elif threshold_text == "any":
                threshold = 1
            elif threshold_text.isdigit() and threshold_text.isascii():
                threshold = int(threshold_text)
            else:
                raise PolicyError(f"{where}: threshold must be all, any or a number")
            if not 1 <= threshold <= len(members):
                raise PolicyError(f"{where}: threshold must be between 1 and {len(members)}")
            policy.groups[name] = Group(name, threshold, members)
            defined.add(name)
        elif keyword == "quorum" and len(args) == 1:
            if quorum is not None:
                raise PolicyError(f"{where}: a policy has exactly one quorum line")
            if args[0] not in defined:
                raise PolicyError(f"{where}: quorum {args[0]!r} is not defined above")
            quorum = args[0]
        else:
            raise PolicyError(f"{where}: cannot read {raw.strip()[:60]!r}")
    if quorum is None:
        raise PolicyError("policy has no quorum line")
    policy.quorum = quorum
    return policy


# --- members.txt --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberKey:
    org: str
    verifier: Verifier
    revoked_at: int | None = None  # index of the revoking entry; valid strictly before it

    def valid_at(self, index: int) -> bool:
        return self.revoked_at is None or index < self.revoked_at


@dataclass
class MemberDirectory:
    """`<org> <vkey> [revoked-at-index]` lines: which key may sign for which org, until when."""

    keys: list[MemberKey] = field(default_factory=list)

    def lookup(self, org: str, key_id_hex: str) -> MemberKey | None:
        for key in self.keys:
            if key.org == org and key.verifier.key_id_hex == key_id_hex:
                return key
        return None

    def to_text(self) -> str:
        lines = ["# <org> <vkey> [revoked-at-index]: member signing keys, from the ledger"]
        for k in self.keys:
            suffix = "" if k.revoked_at is None else f" {k.revoked_at}"
            lines.append(f"{k.org} {k.verifier.vkey}{suffix}")
        return "\n".join(lines) + "\n"


def parse_members(text: str) -> MemberDirectory:
    directory = MemberDirectory()
    for number, raw in enumerate(text.split("\n"), start=1):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) not in (2, 3):
            raise PolicyError(f"members line {number}: expected '<org> <vkey> [revoked-at-index]'")
        verifier = _vkey(words[1], SIG_ED25519, f"members line {number}")
        revoked_at: int | None = None
        if len(words) == 3:
            if not words[2].isdigit() or not words[2].isascii():
                raise PolicyError(f"members line {number}: revoked-at-index must be a number")
            revoked_at = int(words[2])
        if directory.lookup(words[0], verifier.key_id_hex) is not None:
            raise PolicyError(f"members line {number}: key {verifier.key_id_hex} listed twice")
        directory.keys.append(MemberKey(words[0], verifier, revoked_at))
    return directory


@dataclass
class TrustPolicy:
    """Everything an offline verifier must hold: the tlog policy and the member keys."""

    log: LogPolicy
    members: MemberDirectory

    @classmethod
    def from_texts(cls, policy_text: str, members_text: str) -> TrustPolicy:
        return cls(parse_log_policy(policy_text), parse_members(members_text))


# --- write policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleWritePolicy:
    """Which roles may write which record types; a type not listed may be written by no one."""

    allowed: Mapping[str, frozenset[str]]

    def roles_for(self, record_type: str) -> frozenset[str]:
        return self.allowed.get(record_type, frozenset())

    def permits(self, record_type: str, roles: Iterable[str]) -> bool:
        wanted = self.roles_for(record_type)
        return bool(wanted) and not wanted.isdisjoint(roles)
