"""Offline receipts: JSON and the c2sp.org/tlog-proof@v1 text form, and `verify_receipt`.

A receipt carries the signed envelope, its index, an inclusion proof and the (cosigned)
checkpoint the proof leads to.  With the trust policy (log key, witnesses, quorum, member keys)
anyone can check it without asking the ledger anything.

In the tlog-proof text form the `extra` line carries base64 of the entry bytes, so the file is
self-contained; as the spec says, it is not trusted: step 1 verifies the envelope signature and
step 2 binds those exact bytes to the signed root.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ledger.core import merkle
from ledger.core.canonical import parse_strict
from ledger.core.envelope import Envelope, envelope_from_dict
from ledger.core.keys import Verifier, b64decode_strict
from ledger.core.note import Checkpoint, Note, parse_checkpoint, parse_note, verified_signers
from ledger.core.policy import LogPolicy, TrustPolicy
from ledger.errors import LedgerError, MalformedJSON, NoteError, ReceiptInvalid

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
STEPS = {
    1: "envelope signature by a key of the named org",
    2: "leaf hash and inclusion proof",
    3: "log signature on the checkpoint",
    4: "witness cosignatures meet the quorum",
    5: "data matches the hash the entry commits to",
}
FINAL_HEADER = "Sealchain-Final"  # a server's answer: "true" if the receipt meets the quorum
DATA_FIELD = "sha256"  # body field holding hex SHA-256 of off-ledger data an entry notarizes


@dataclass(frozen=True)
class Receipt:
    entry: dict[str, Any]
    index: int
    proof: tuple[bytes, ...]
    checkpoint: str  # signed note text, with any cosignatures

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "index": self.index,
            "proof": [base64.b64encode(p).decode() for p in self.proof],
            "checkpoint": self.checkpoint,
        }

    def to_tlog_proof(self) -> str:
        envelope = envelope_from_dict(self.entry)
        lines = [
            TLOG_PROOF_HEADER,
            "extra " + base64.b64encode(envelope.raw).decode(),
            f"index {self.index}",
            *(base64.b64encode(p).decode() for p in self.proof),
            "",
        ]
        return "\n".join(lines) + "\n" + self.checkpoint


def _malformed(why: str) -> ReceiptInvalid:
    return ReceiptInvalid(0, f"receipt is malformed: {why}")


def receipt_from_json(value: Any) -> Receipt:
    """Schema-check a decoded JSON receipt; raises ReceiptInvalid (step 0) if malformed."""
    if not isinstance(value, dict) or value.keys() != {"entry", "index", "proof", "checkpoint"}:
        raise _malformed("expected exactly entry, index, proof and checkpoint")
    if not isinstance(value["entry"], dict):
        raise _malformed("entry must be an object")
    if type(value["index"]) is not int or value["index"] < 0:
        raise _malformed("index must be a non-negative integer")
    if not isinstance(value["proof"], list) or not isinstance(value["checkpoint"], str):
        raise _malformed("proof must be a list and checkpoint a string")
    try:
        proof = tuple(b64decode_strict(p) for p in value["proof"])
    except (binascii.Error, TypeError) as e:
        raise _malformed("proof hashes must be base64") from e
    return Receipt(value["entry"], value["index"], proof, value["checkpoint"])


def parse_tlog_proof(text: str) -> Receipt:
    """Read a c2sp.org/tlog-proof@v1 file whose extra line holds the entry bytes."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise _malformed("tlog-proof has no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise _malformed(f"first line must be {TLOG_PROOF_HEADER}")
    if len(lines) < 3 or not lines[1].startswith("extra ") or not lines[2].startswith("index "):
        raise _malformed("expected 'extra <entry>' and 'index <n>' lines")
    index_text = lines[2][len("index ") :]
    if (
        not index_text.isdigit()
        or not index_text.isascii()
        or (index_text != "0" and index_text.startswith("0"))
    ):
        raise _malformed("index must be a decimal without leading zeros")
    try:
        entry_bytes = b64decode_strict(lines[1][len("extra ") :])
        proof = tuple(b64decode_strict(p) for p in lines[3:])
        entry = parse_strict(entry_bytes)
    except (binascii.Error, MalformedJSON) as e:
        raise _malformed(f"bad base64 or entry JSON: {e}") from e
    if not isinstance(entry, dict):
        raise _malformed("entry must be a JSON object")
    return Receipt(entry, int(index_text), proof, checkpoint)


def load_receipt(data: bytes) -> Receipt:
    """Read either form: JSON (starts with '{') or tlog-proof text."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            return receipt_from_json(parse_strict(stripped, max_bytes=1024 * 1024))
        except MalformedJSON as e:
            raise _malformed(f"not valid JSON: {e.detail}") from e
    try:
        return parse_tlog_proof(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _malformed("not UTF-8") from e


def verify_log_signature(note: Note, checkpoint: Checkpoint, policy: LogPolicy) -> Verifier:
    """Return the log key of `policy` that signed `note`, whose text is `checkpoint`.

    Any key the policy lists under the checkpoint's origin will do: a log that rotates its key
    is listed once per key. Raises NoteError if none of them signed it (or if the policy names
    no log with that origin, or a listed key's signature line does not verify).
    """
    logs = policy.logs_for_origin(checkpoint.origin)
    if not logs:
        raise NoteError(f"no log in the policy has origin {checkpoint.origin!r}")
    signers = verified_signers(note, logs)
    if not signers:
        raise NoteError(f"checkpoint is not signed by a key of log {checkpoint.origin}")
    return signers[0]


def witness_cosigners(note: Note, policy: LogPolicy) -> list[str]:
    """The names (in `policy`) of the witnesses whose cosignature on `note` verifies, sorted.
    Raises NoteError if a line with a witness's name and key id does not verify."""
    by_key = {w.key_id: name for name, w in policy.witnesses.items()}
    return sorted(by_key[w.key_id] for w in verified_signers(note, policy.witnesses.values()))


def is_final(note_text: str, policy: LogPolicy) -> bool:
    """Whether a checkpoint note carries cosignatures meeting the policy's quorum (a note that
    does not parse, or whose cosignature lines do not verify, is not final)."""
    try:
        return policy.quorum_met(set(witness_cosigners(parse_note(note_text), policy)))
    except LedgerError:
        return False


def finality(note_text: str, policy: LogPolicy) -> str:
    """The FINAL_HEADER value for a receipt whose checkpoint is `note_text`."""
    return "true" if policy.quorum == "none" or is_final(note_text, policy) else "false"


@dataclass
class ReceiptVerification:
    """What a successful verification established."""

    envelope: Envelope
    index: int
    checkpoint: Checkpoint
    witnesses: list[str] = field(default_factory=list)
    data_checked: bool = False
    steps: list[tuple[int, str]] = field(default_factory=list)


def verify_receipt(
    receipt: Receipt, policy: TrustPolicy, *, data: bytes | None = None
) -> ReceiptVerification:
    """Verify a receipt offline against `policy`; raises ReceiptInvalid naming the failed step."""
    done: list[tuple[int, str]] = []

    # (1) envelope signature by a key the named org held at this index
    try:
        envelope = envelope_from_dict(receipt.entry)
    except LedgerError as e:
        raise ReceiptInvalid(1, f"entry is not a valid envelope: {e.detail}") from e
    member_key = policy.members.lookup(envelope.org, envelope.key)
    if member_key is None:
        raise ReceiptInvalid(1, f"key {envelope.key} is not a key of org {envelope.org!r}")
    if not member_key.valid_at(receipt.index):
        raise ReceiptInvalid(1, f"key {envelope.key} was revoked before index {receipt.index}")
    if not member_key.verifier.verify(envelope.signed_message(), envelope.sig):
        raise ReceiptInvalid(1, f"signature by {envelope.org} key {envelope.key} does not verify")
    done.append((1, STEPS[1]))

    # (2) leaf hash and inclusion proof against the checkpoint's root (its signature is step 3)
    try:
        note: Note = parse_note(receipt.checkpoint)
        checkpoint = parse_checkpoint(note.text)
    except LedgerError as e:
        raise ReceiptInvalid(2, f"checkpoint is malformed: {e.detail}") from e
    try:
        merkle.verify_inclusion(
            receipt.index,
            checkpoint.size,
            merkle.leaf_hash(envelope.raw),
            list(receipt.proof),
            checkpoint.root,
        )
    except LedgerError as e:
        raise ReceiptInvalid(2, e.detail) from e
    done.append((2, STEPS[2]))

    # (3) the log's signature on that checkpoint
    try:
        verify_log_signature(note, checkpoint, policy.log)
    except LedgerError as e:
        raise ReceiptInvalid(3, e.detail) from e
    done.append((3, STEPS[3]))

    # (4) witness cosignatures meet the quorum
    try:
        names = witness_cosigners(note, policy.log)
    except LedgerError as e:
        raise ReceiptInvalid(4, e.detail) from e
    if not policy.log.quorum_met(set(names)):
        raise ReceiptInvalid(4, f"cosigned by {names or 'no witness'}, quorum {policy.log.quorum}")
    done.append((4, STEPS[4]))

    # (5) optional data against the digest the entry commits to
    if data is not None:
        committed = envelope.body.get(DATA_FIELD)
        if not isinstance(committed, str):
            raise ReceiptInvalid(
                5, f"entry body has no {DATA_FIELD!r} digest to check data against"
            )
        if hashlib.sha256(data).hexdigest() != committed.lower():
            raise ReceiptInvalid(5, "data does not match the digest in the entry")
        done.append((5, STEPS[5]))

    return ReceiptVerification(envelope, receipt.index, checkpoint, names, data is not None, done)
