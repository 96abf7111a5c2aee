"""Proof bundles for public pages: what a browser needs to verify a page's facts on its own.

A bundle holds the signed entries a page is about, every governance entry of the ledger (so
that member keys, names and roles come from signed entries too, not from tables an operator can
edit), an inclusion proof for each, the cosigned checkpoint they lead to, and the trust policy:

    {"checkpoint": "<signed note, with cosignatures>",
     "policy": {"logs": [vkey], "witnesses": {name: vkey},
                "groups": {name: {"threshold": k, "members": [name]}}, "quorum": name},
     "entries": [{"index": i, "entry": "<base64 of the stored bytes>", "proof": [base64]}]}

Entries are sorted by index and each appears once. The stored bytes are shipped as they are,
never re-encoded: they are the Merkle leaves. Browsers verify a bundle with `verifyBundle` in
ledger/api/pages/static/verify.js, programs with `verify_page_bundle` below; docs/apps.md
describes what each checks.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ledger.core.canonical import parse_strict
from ledger.core.keys import b64decode_strict
from ledger.core.policy import LogPolicy, TrustPolicy
from ledger.core.receipt import Receipt, verify_receipt
from ledger.errors import LedgerError, ReceiptInvalid, StateConflict
from ledger.service.app import Registry
from ledger.service.membership import GOVERNANCE_APP, GovernanceState
from ledger.service.proofs import best_checkpoint, checkpoint_with_cosignatures, inclusion_proofs
from ledger.storage.repository import MemberRow, Repository

GOVERNANCE_REGISTRY = Registry([GOVERNANCE_APP])


def policy_json(policy: LogPolicy) -> dict[str, Any]:
    """The trust policy as the browser verifier reads it."""
    return {
        "logs": [log.vkey for log in policy.logs],
        "witnesses": {name: w.vkey for name, w in policy.witnesses.items()},
        "groups": {
            g.name: {"threshold": g.threshold, "members": list(g.members)}
            for g in policy.groups.values()
        },
        "quorum": policy.quorum,
    }


def page_bundle(conn: Connection, indexes: Iterable[int], policy: LogPolicy) -> dict[str, Any]:
    """The bundle for entries `indexes` and every governance entry, against the latest final
    checkpoint that holds them (else the latest); raises NotFound if an index is beyond it."""
    indexes = list(indexes)
    size, note = checkpoint_with_cosignatures(
        conn, best_checkpoint(conn, policy, max(indexes, default=-1) + 1)
    )
    repo = Repository(conn)
    wanted = sorted({*indexes, *repo.governance_indexes(size)})
    data = repo.entry_data(wanted)
    proofs = inclusion_proofs(conn, wanted, size)
    return {
        "checkpoint": note,
        "policy": policy_json(policy),
        "entries": [
            {
                "index": index,
                "entry": base64.b64encode(data[index]).decode(),
                "proof": [base64.b64encode(p).decode() for p in proof],
            }
            for index, proof in zip(wanted, proofs, strict=True)
        ],
    }


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle checked against the caller's own trust policy."""

    entries: list[tuple[int, dict[str, Any]]]  # the app entries (not governance), by index
    parties: dict[str, MemberRow]  # members as the bundle's governance entries define them
    size: int  # of the checkpoint every entry is proven in


def verify_page_bundle(bundle: Mapping[str, Any], trust: TrustPolicy) -> VerifiedBundle:
    """Check a page bundle the way a program should: every entry as a receipt against `trust`
    (the caller's policy and members, not the bundle's), then the governance entries replayed
    for member names and roles. Raises a VerificationError (ReceiptInvalid for an entry)."""
    try:
        checkpoint, items = bundle["checkpoint"], list(bundle["entries"])
        indexes = [item["index"] for item in items]
        if indexes != sorted(set(indexes)):
            raise ReceiptInvalid(0, "bundle entries must be sorted by index, each once")
        entries = [
            (
                item["index"],
                parse_strict(b64decode_strict(item["entry"])),
                tuple(b64decode_strict(p) for p in item["proof"]),
            )
            for item in items
        ]
    except (KeyError, TypeError, AttributeError, LedgerError) as e:
        raise ReceiptInvalid(0, f"the proof bundle is malformed: {e}") from e
    governance, app_entries, size = GovernanceState(), [], 0
    for index, entry, proof in entries:
        result = verify_receipt(Receipt(entry, index, proof, checkpoint), trust)
        size = result.checkpoint.size
        if result.envelope.type.startswith("ledger."):
            _, body = GOVERNANCE_REGISTRY.parse_body(result.envelope)
            try:
                governance.apply(index, result.envelope.org, result.envelope.key, body)
            except StateConflict as e:
                raise ReceiptInvalid(0, f"governance entry {index}: {e.detail}") from e
        else:
            app_entries.append((index, entry))
    if not governance.members:
        raise ReceiptInvalid(0, "the proof bundle lacks the ledger's governance entries")
    return VerifiedBundle(app_entries, dict(governance.members), size)
