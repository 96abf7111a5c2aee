"""Proof bundles for public pages: what a browser needs to verify a page's facts on its own.

A bundle holds the signed entries a page is about, every governance entry of the ledger (so
that member keys, names and roles come from signed entries too, not from tables an operator can
edit), an inclusion proof for each, the cosigned checkpoint they lead to, and the trust policy:

    {"checkpoint": "<signed note, with cosignatures>",
     "policy": {"logs": [vkey], "witnesses": {name: vkey},
                "groups": {name: {"threshold": k, "members": [name]}}, "quorum": name},
     "entries": [{"index": i, "entry": "<base64 of the stored bytes>", "proof": [base64]}]}

Entries are sorted by index and each appears once. The stored bytes are shipped as they are,
never re-encoded: they are the Merkle leaves. The verifier is `ledger/api/pages/static/verify.js`
(`verifyBundle`); docs/apps.md describes what it checks.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from ledger.core.policy import LogPolicy
from ledger.service.proofs import checkpoint_with_cosignatures, inclusion_proofs
from ledger.storage.repository import Repository


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
    """The bundle for entries `indexes` and every governance entry, against the latest
    checkpoint; raises NotFound if an index is beyond it."""
    size, note = checkpoint_with_cosignatures(conn)
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
