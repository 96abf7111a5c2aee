"""Every kind of fault deep in a large log is named the same by the audit's worker processes as
by one process: the workers' fast path (canonical envelope from the bytes, columns, nonce row,
body, signature) only ever settles an entry that passes, and anything else is left to the walk
in order. On SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from ledger.core.canonical import canonical_bytes, parse_strict
from ledger.service.audit import PAGE, AuditResult, audit
from ledger.storage.engine import write_transaction
from tests.support.ledgers import LedgerFixture, make_ledger

ENTRIES = 6 * PAGE
DEEP = 4 * PAGE + 123  # a page the workers check while the main process walks an earlier one


@pytest.fixture
def ledger(tmp_path: Path, db_url: str | None) -> Iterator[LedgerFixture]:
    built = make_ledger(tmp_path / "home", db_url)
    built.fill(ENTRIES, 250)
    yield built
    built.close()


def _data(conn: Connection, index: int) -> bytes:
    found = conn.execute(text("SELECT data FROM entries WHERE idx = :i"), {"i": index}).scalar()
    return bytes(found)


def _set(conn: Connection, column: str, value: object, index: int) -> None:
    conn.execute(text(f"UPDATE entries SET {column} = :v WHERE idx = :i"), {"v": value, "i": index})


def _spaced(conn: Connection) -> None:
    """A space after the first colon: the same envelope, not its canonical bytes."""
    _set(conn, "data", _data(conn, DEEP).replace(b":", b": ", 1), DEEP)


def _duplicate_key(conn: Connection) -> None:
    _set(conn, "data", _data(conn, DEEP)[:-1] + b',"v":1}', DEEP)


def _escaped_letter(conn: Connection) -> None:
    """`"v"` spelled `"\\u0076"`: strict JSON, the same value, not canonical."""
    _set(conn, "data", _data(conn, DEEP).replace(b'"v":1}', b'"\\u0076":1}'), DEEP)


def _wrong_tx_id(conn: Connection) -> None:
    _set(conn, "tx_id", "0" * 64, DEEP)


def _wrong_block(conn: Connection) -> None:
    height = conn.execute(
        text("SELECT block_height FROM entries WHERE idx = :i"), {"i": DEEP}
    ).scalar_one()
    _set(conn, "block_height", height + 1, DEEP)


def _foreign_nonce(conn: Connection) -> None:
    conn.execute(text("UPDATE nonces SET nonce = :n WHERE idx = :i"), {"n": "A" * 22, "i": DEEP})


def _refused_body(conn: Connection) -> None:
    """A body the app refuses, canonical and with its tx_id column updated to match."""
    value = parse_strict(_data(conn, DEEP))
    value["body"] = {"text": 5} if "text" in value["body"] else {"item": 5}
    raw = canonical_bytes(value)
    unsigned = canonical_bytes({k: v for k, v in value.items() if k != "sig"})
    _set(conn, "data", raw, DEEP)
    _set(conn, "tx_id", hashlib.sha256(unsigned).hexdigest(), DEEP)


def _flipped_leaf_node(conn: Connection) -> None:
    stored = conn.execute(
        text("SELECT hash FROM nodes WHERE level = 0 AND idx = :i"), {"i": DEEP}
    ).scalar_one()
    flipped = bytes([bytes(stored)[0] ^ 1]) + bytes(stored)[1:]
    conn.execute(
        text("UPDATE nodes SET hash = :h WHERE level = 0 AND idx = :i"), {"h": flipped, "i": DEEP}
    )


FAULTS: dict[str, tuple[Callable[[Connection], None], str]] = {
    "spaced": (_spaced, f"entry {DEEP}: bytes are not the canonical encoding of the envelope"),
    "duplicate-key": (_duplicate_key, f"entry {DEEP}: is not a valid envelope: duplicate"),
    "escaped-letter": (_escaped_letter, f"entry {DEEP}: bytes are not the canonical encoding"),
    "tx-id-column": (_wrong_tx_id, f"entry {DEEP}: tx_id, org or type column does not match"),
    "block-column": (_wrong_block, f"entry {DEEP}: is stored in block"),
    "nonce-row": (_foreign_nonce, f"entry {DEEP}: nonce row is missing or does not match"),
    "body": (_refused_body, f"entry {DEEP}: "),
    "leaf-node": (_flipped_leaf_node, f"stored Merkle node (0, {DEEP}) over entry {DEEP} is"),
}


def _audit(ledger: LedgerFixture, workers: int) -> AuditResult:
    node = ledger.node
    return audit(node.engine, node.registry, log_keys=node.log_policy.logs, workers=workers)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_audit_workers_name_a_fault_deep_in_the_log_as_one_process_does(
    ledger: LedgerFixture, fault: str
) -> None:
    mutate, expected = FAULTS[fault]
    with write_transaction(ledger.node.engine) as conn:
        mutate(conn)
    parallel = _audit(ledger, workers=2)
    sequential = _audit(ledger, workers=1)
    assert not parallel.ok
    assert parallel.first_bad is not None and expected in parallel.first_bad
    assert (parallel.first_bad, parallel.where, parallel.entries, parallel.blocks) == (
        sequential.first_bad,
        sequential.where,
        sequential.entries,
        sequential.blocks,
    )
    if fault != "leaf-node":  # a node is checked after its entry was counted
        assert parallel.entries == DEEP
