"""Offline receipts (DESIGN 3.7): one passing receipt, then one failure per numbered step.

The log is built in memory exactly as the service builds it: leaves are envelope entry bytes,
nodes come from CompactRange, the checkpoint is a signed note from the log key (named after the
origin) with tlog-cosignature/v1 lines from witnesses.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import merkle, note
from ledger.core.canonical import canonical_bytes
from ledger.core.envelope import Envelope, sign_envelope
from ledger.core.keys import SIG_COSIGNATURE_V1, Signer
from ledger.core.note import Checkpoint, NoteSignature
from ledger.core.policy import MemberDirectory, MemberKey, TrustPolicy, parse_log_policy
from ledger.core.receipt import (
    STEPS,
    Receipt,
    load_receipt,
    parse_tlog_proof,
    receipt_from_json,
    verify_receipt,
)
from ledger.errors import ReceiptInvalid

ORIGIN = "sealchain.test/log"
LOG = Signer.from_seed(ORIGIN, b"\x01" * 32)
WITNESSES = [
    Signer.from_seed(f"witness.test/w{i}", bytes([0x40 + i]) * 32, SIG_COSIGNATURE_V1)
    for i in (1, 2, 3)
]
MEATWORKS = Signer.from_seed("sealchain.test/org/au-meatworks", b"\x11" * 32)
EXPORTER = Signer.from_seed("sealchain.test/org/au-exporter", b"\x12" * 32)
EVIDENCE = b"photo of the carcass tag, 2026-11-28"
N_ENTRIES = 6
TS = "2026-11-28T08:30:00.000Z"


def _nonce(i: int) -> str:
    return base64.urlsafe_b64encode(bytes([i]) * 16).rstrip(b"=").decode()


def _policy_text(quorum: str) -> str:
    lines = [f"log {LOG.vkey}"]
    lines += [f"witness W{i} {w.vkey}" for i, w in enumerate(WITNESSES, start=1)]
    groups = {
        "two-of-three": "group two-of-three 2 W1 W2 W3",
        "all-three": "group all-three all W1 W2 W3",
    }
    if quorum in groups:
        lines.append(groups[quorum])  # a witness may be a member of one group only
    return "\n".join(lines) + f"\nquorum {quorum}\n"


def _members(revoked_at: int | None = None) -> MemberDirectory:
    return MemberDirectory(
        [
            MemberKey("au-meatworks", MEATWORKS.verifier, revoked_at),
            MemberKey("au-exporter", EXPORTER.verifier),
        ]
    )


def _trust(quorum: str = "two-of-three", revoked_at: int | None = None) -> TrustPolicy:
    return TrustPolicy(parse_log_policy(_policy_text(quorum)), _members(revoked_at))


@dataclass
class Log:
    envelopes: list[Envelope]
    nodes: dict[tuple[int, int], bytes]
    checkpoint: Checkpoint

    def signed(self, *, cosigners: int = 2, signer: Signer = LOG) -> str:
        base = note.sign_note(self.checkpoint.text(), [signer])
        cosigs = [note.cosign(base.text, w, 1_764_318_600 + i) for i, w in enumerate(WITNESSES)]
        return str(base.with_signatures(cosigs[:cosigners]))

    def receipt(self, index: int, **kw: Any) -> Receipt:
        proof = merkle.inclusion_proof(index, self.checkpoint.size, self.nodes)
        return Receipt(self.envelopes[index].as_dict(), index, tuple(proof), self.signed(**kw))


def _build_log() -> Log:
    envelopes = []
    for i in range(N_ENTRIES):
        signer, org = (MEATWORKS, "au-meatworks") if i % 2 == 0 else (EXPORTER, "au-exporter")
        body: dict[str, Any] = {"pack": f"QR-{i:04d}", "step": i}
        if i == 2:
            body["sha256"] = hashlib.sha256(EVIDENCE).hexdigest()
        envelopes.append(
            sign_envelope(signer, type="beef.record", org=org, body=body, ts=TS, nonce=_nonce(i))
        )
    rng = merkle.CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for env in envelopes:
        for level, index, value in rng.append(merkle.leaf_hash(env.raw)):
            nodes[(level, index)] = value
    return Log(envelopes, nodes, Checkpoint(ORIGIN, rng.size, rng.root()))


LOG_STATE = _build_log()


def _fails_at(step: int, receipt: Receipt, trust: TrustPolicy, **kw: Any) -> ReceiptInvalid:
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(receipt, trust, **kw)
    assert caught.value.step == step, caught.value.detail
    assert caught.value.code == "bad-receipt"
    assert caught.value.problem()["step"] == step
    return caught.value


# --- the happy path -----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(N_ENTRIES))
def test_receipt_passes_all_steps(index: int) -> None:
    result = verify_receipt(LOG_STATE.receipt(index), _trust())
    assert [n for n, _ in result.steps] == [1, 2, 3, 4]
    assert result.index == index
    assert result.envelope == LOG_STATE.envelopes[index]
    assert result.checkpoint == LOG_STATE.checkpoint
    assert result.witnesses == ["W1", "W2"]
    assert not result.data_checked


def test_receipt_checks_data_against_the_committed_digest() -> None:
    result = verify_receipt(LOG_STATE.receipt(2), _trust(), data=EVIDENCE)
    assert result.steps == [(n, STEPS[n]) for n in (1, 2, 3, 4, 5)]
    assert result.data_checked


def test_receipt_with_quorum_none_needs_no_cosignatures() -> None:
    result = verify_receipt(LOG_STATE.receipt(0, cosigners=0), _trust("none"))
    assert result.witnesses == []


# --- one failure per step -----------------------------------------------------------------------


def test_step1_rejects_entry_signed_by_a_key_the_org_does_not_hold() -> None:
    trust = _trust()
    trust.members = MemberDirectory([MemberKey("au-meatworks", EXPORTER.verifier)])
    _fails_at(1, LOG_STATE.receipt(0), trust)


def test_step1_rejects_entry_claiming_another_orgs_name() -> None:
    # au-meatworks's key signing as au-exporter: a real member impersonating another.
    env = sign_envelope(MEATWORKS, type="beef.record", org="au-exporter", body={}, ts=TS)
    receipt = dataclasses.replace(LOG_STATE.receipt(0), entry=env.as_dict())
    _fails_at(1, receipt, _trust())


@pytest.mark.parametrize("revoked_at", [0, 3, 4])
def test_step1_rejects_key_revoked_at_or_before_the_index(revoked_at: int) -> None:
    _fails_at(1, LOG_STATE.receipt(4), _trust(revoked_at=revoked_at))


def test_step1_accepts_key_revoked_after_the_index() -> None:
    # Entries sequenced before a revocation stay valid.
    verify_receipt(LOG_STATE.receipt(4), _trust(revoked_at=5))


def test_step1_rejects_entry_changed_after_signing() -> None:
    receipt = LOG_STATE.receipt(0)
    entry = {**receipt.entry, "body": {**receipt.entry["body"], "step": 99}}
    _fails_at(1, dataclasses.replace(receipt, entry=entry), _trust())


def test_step1_rejects_entry_that_is_not_an_envelope() -> None:
    receipt = LOG_STATE.receipt(0)
    _fails_at(1, dataclasses.replace(receipt, entry={**receipt.entry, "v": 2}), _trust())


def test_step2_rejects_altered_proof_hash() -> None:
    receipt = LOG_STATE.receipt(3)
    proof = list(receipt.proof)
    proof[1] = bytes([proof[1][0] ^ 0x01]) + proof[1][1:]
    _fails_at(2, dataclasses.replace(receipt, proof=tuple(proof)), _trust())


def test_step2_rejects_truncated_or_extended_proof() -> None:
    receipt = LOG_STATE.receipt(3)
    _fails_at(2, dataclasses.replace(receipt, proof=receipt.proof[:-1]), _trust())
    _fails_at(2, dataclasses.replace(receipt, proof=(*receipt.proof, b"\x00" * 32)), _trust())


def test_step2_rejects_receipt_moved_to_another_index() -> None:
    receipt = LOG_STATE.receipt(2)
    _fails_at(2, dataclasses.replace(receipt, index=0), _trust())
    _fails_at(2, dataclasses.replace(receipt, index=N_ENTRIES), _trust())


def test_step2_rejects_validly_signed_entry_that_was_never_logged() -> None:
    env = sign_envelope(MEATWORKS, type="beef.record", org="au-meatworks", body={"x": 1}, ts=TS)
    receipt = dataclasses.replace(LOG_STATE.receipt(0), entry=env.as_dict())
    _fails_at(2, receipt, _trust())


def test_step2_rejects_malformed_checkpoint() -> None:
    receipt = LOG_STATE.receipt(0)
    _fails_at(2, dataclasses.replace(receipt, checkpoint="not a note"), _trust())


def test_step3_rejects_checkpoint_signed_by_another_key() -> None:
    # An attacker with their own key under the log's name forges a tree containing a fake entry.
    impostor = Signer.from_seed(ORIGIN, b"\x66" * 32)
    _fails_at(3, LOG_STATE.receipt(0, signer=impostor), _trust())


def test_step3_rejects_checkpoint_of_a_log_not_in_the_policy() -> None:
    other_log = Signer.from_seed("other.test/log", b"\x67" * 32)
    forged = dataclasses.replace(
        LOG_STATE, checkpoint=dataclasses.replace(LOG_STATE.checkpoint, origin=other_log.name)
    )
    _fails_at(3, forged.receipt(0, signer=other_log), _trust())


ROTATED_LOG = Signer.from_seed(ORIGIN, b"\x02" * 32)  # the log's next key, same origin


def _trust_with_both_log_keys(first: Signer, second: Signer) -> TrustPolicy:
    text = _policy_text("two-of-three").replace(
        f"log {LOG.vkey}\n", f"log {first.vkey}\nlog {second.vkey}\n"
    )
    return TrustPolicy(parse_log_policy(text), _members())


@pytest.mark.parametrize("order", ["old-first", "new-first"])
@pytest.mark.parametrize("signer", [LOG, ROTATED_LOG], ids=["old-key", "new-key"])
def test_step3_accepts_a_checkpoint_by_either_key_of_a_rotated_log(
    order: str, signer: Signer
) -> None:
    keys = (LOG, ROTATED_LOG) if order == "old-first" else (ROTATED_LOG, LOG)
    result = verify_receipt(LOG_STATE.receipt(1, signer=signer), _trust_with_both_log_keys(*keys))
    assert [n for n, _ in result.steps] == [1, 2, 3, 4]


def test_step3_rejects_a_checkpoint_by_neither_key_of_a_rotated_log() -> None:
    third = Signer.from_seed(ORIGIN, b"\x03" * 32)
    trust = _trust_with_both_log_keys(LOG, ROTATED_LOG)
    failure = _fails_at(3, LOG_STATE.receipt(1, signer=third), trust)
    assert "not signed by a key of log" in failure.detail


def test_step3_rejects_checkpoint_with_corrupted_log_signature() -> None:
    receipt = LOG_STATE.receipt(0)
    parsed = note.parse_note(receipt.checkpoint)
    log_sig = parsed.signatures[0]
    bad = NoteSignature(log_sig.name, log_sig.key_id, bytes(64))
    tampered = note.Note(parsed.text, (bad, *parsed.signatures[1:]))
    _fails_at(3, dataclasses.replace(receipt, checkpoint=str(tampered)), _trust())


def test_step4_rejects_two_of_three_quorum_with_one_cosignature() -> None:
    _fails_at(4, LOG_STATE.receipt(0, cosigners=1), _trust("two-of-three"))
    _fails_at(4, LOG_STATE.receipt(0, cosigners=0), _trust("two-of-three"))
    _fails_at(4, LOG_STATE.receipt(0, cosigners=2), _trust("all-three"))


def test_step4_rejects_cosignature_with_altered_timestamp() -> None:
    receipt = LOG_STATE.receipt(0, cosigners=3)
    parsed = note.parse_note(receipt.checkpoint)
    cosig = parsed.signatures[1]
    moved = NoteSignature(cosig.name, cosig.key_id, (1).to_bytes(8, "big") + cosig.signature[8:])
    tampered = note.Note(parsed.text, (parsed.signatures[0], moved, *parsed.signatures[2:]))
    _fails_at(4, dataclasses.replace(receipt, checkpoint=str(tampered)), _trust())


def test_step4_ignores_cosignatures_from_witnesses_outside_the_policy() -> None:
    stranger = Signer.from_seed("witness.test/stranger", b"\x70" * 32, SIG_COSIGNATURE_V1)
    receipt = LOG_STATE.receipt(0, cosigners=1)
    parsed = note.parse_note(receipt.checkpoint)
    padded = parsed.with_signatures([note.cosign(parsed.text, stranger, 5)])
    _fails_at(4, dataclasses.replace(receipt, checkpoint=str(padded)), _trust())


def test_step5_rejects_data_not_matching_the_committed_digest() -> None:
    _fails_at(5, LOG_STATE.receipt(2), _trust(), data=EVIDENCE + b".")
    _fails_at(5, LOG_STATE.receipt(2), _trust(), data=b"")


def test_step5_rejects_data_for_entry_that_commits_to_none() -> None:
    _fails_at(5, LOG_STATE.receipt(0), _trust(), data=EVIDENCE)


# --- serialised forms ---------------------------------------------------------------------------


def _json_bytes(receipt: Receipt) -> bytes:
    return canonical_bytes(receipt.to_json())


@pytest.mark.parametrize("index", range(N_ENTRIES))
def test_json_receipt_round_trips(index: int) -> None:
    receipt = LOG_STATE.receipt(index)
    assert load_receipt(_json_bytes(receipt)) == receipt
    assert load_receipt(json.dumps(receipt.to_json(), indent=2).encode()) == receipt
    verify_receipt(load_receipt(_json_bytes(receipt)), _trust())


@pytest.mark.parametrize("index", range(N_ENTRIES))
def test_tlog_proof_receipt_round_trips(index: int) -> None:
    receipt = LOG_STATE.receipt(index)
    text = receipt.to_tlog_proof()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    assert f"\nindex {index}\n" in text
    assert text.endswith(receipt.checkpoint)
    assert load_receipt(text.encode()) == receipt
    assert parse_tlog_proof(text) == receipt
    verify_receipt(load_receipt(text.encode()), _trust())


def test_tlog_proof_extra_line_carries_the_entry_bytes() -> None:
    receipt = LOG_STATE.receipt(1)
    extra = receipt.to_tlog_proof().split("\n")[1].removeprefix("extra ")
    assert base64.b64decode(extra) == LOG_STATE.envelopes[1].raw


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"entry": {}, "index": 0, "proof": []},
        {"entry": {}, "index": 0, "proof": [], "checkpoint": "", "extra": 1},
        {"entry": [], "index": 0, "proof": [], "checkpoint": ""},
        {"entry": {}, "index": -1, "proof": [], "checkpoint": ""},
        {"entry": {}, "index": True, "proof": [], "checkpoint": ""},
        {"entry": {}, "index": "0", "proof": [], "checkpoint": ""},
        {"entry": {}, "index": 0, "proof": "AAAA", "checkpoint": ""},
        {"entry": {}, "index": 0, "proof": ["!!"], "checkpoint": ""},
        {"entry": {}, "index": 0, "proof": [5], "checkpoint": ""},
        {"entry": {}, "index": 0, "proof": [], "checkpoint": 5},
    ],
)
def test_rejects_malformed_json_receipt_as_step_0(value: Any) -> None:
    with pytest.raises(ReceiptInvalid) as caught:
        receipt_from_json(value)
    assert caught.value.step == 0


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b'{"entry":{},"entry":{},"index":0,"proof":[],"checkpoint":""}',
        b"\xff\xfe",
        b"c2sp.org/tlog-proof@v2\nextra e30=\nindex 0\n\ncheckpoint",
        b"c2sp.org/tlog-proof@v1\nindex 0\n\ncheckpoint",
        b"c2sp.org/tlog-proof@v1\nextra e30=\nindex 00\n\ncheckpoint",
        b"c2sp.org/tlog-proof@v1\nextra e30=\nindex -1\n\ncheckpoint",
        b"c2sp.org/tlog-proof@v1\nextra e30=\nindex 0\ncheckpoint",
        b"c2sp.org/tlog-proof@v1\nextra !!!\nindex 0\n\ncheckpoint",
        b"c2sp.org/tlog-proof@v1\nextra W10=\nindex 0\n\ncheckpoint",  # entry is a list
        b"c2sp.org/tlog-proof@v1\nextra e30=\nindex 0\n!!\n\ncheckpoint",
    ],
)
def test_rejects_malformed_receipt_files_as_step_0(data: bytes) -> None:
    with pytest.raises(ReceiptInvalid) as caught:
        load_receipt(data)
    assert caught.value.step == 0


@pytest.mark.parametrize(
    "data",
    [
        '{"entry":{},"index":0,"proof":["\u00e9AAA"],"checkpoint":""}'.encode(),
        "c2sp.org/tlog-proof@v1\nextra e30=\nindex 0\n\u00e9AAA\n\ncheckpoint".encode(),
        "c2sp.org/tlog-proof@v1\nextra \u00e930=\nindex 0\n\ncheckpoint".encode(),
        "c2sp.org/tlog-proof@v1\nextra e30=\nindex \u00b2\n\ncheckpoint".encode(),  # superscript 2
        "c2sp.org/tlog-proof@v1\nextra e30=\nindex \u0663\n\ncheckpoint".encode(),  # Arabic 3
    ],
)
def test_rejects_non_ascii_in_receipt_files_as_step_0(data: bytes) -> None:
    # Crafted receipt files must fail as ReceiptInvalid, never as ValueError (a CLI crash / 500),
    # and an index has exactly one spelling.
    with pytest.raises(ReceiptInvalid) as caught:
        load_receipt(data)
    assert caught.value.step == 0


def test_rejects_non_ascii_checkpoint_root_as_receipt_invalid() -> None:
    receipt = LOG_STATE.receipt(0)
    root_line = receipt.checkpoint.split("\n")[2]
    tampered = receipt.checkpoint.replace(root_line, "\u00e9" + root_line[1:])
    with pytest.raises(ReceiptInvalid):
        verify_receipt(dataclasses.replace(receipt, checkpoint=tampered), _trust())


def test_rejects_non_canonical_base64_proof_hash() -> None:
    # "…=" with the unused low bits set decodes to the same 32 bytes: a second spelling of the
    # same receipt that strict base64 decoders (Go's Strict, Rust's base64) would refuse.
    receipt = LOG_STATE.receipt(3)
    value = receipt.to_json()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    first = value["proof"][0]
    value["proof"][0] = first[:-2] + alphabet[alphabet.index(first[-2]) ^ 1] + "="
    assert base64.b64decode(value["proof"][0]) == receipt.proof[0]
    with pytest.raises(ReceiptInvalid):
        receipt_from_json(value)


# --- tampering with the serialised receipt ------------------------------------------------------

STRICT_TRUST = _trust("all-three")
FULL_RECEIPT = LOG_STATE.receipt(3, cosigners=3)
FULL_JSON = _json_bytes(FULL_RECEIPT)


def _span(data: bytes, needle: bytes) -> range:
    start = data.index(needle)
    return range(start, start + len(needle))


PROOF_SPAN = _span(FULL_JSON, canonical_bytes(FULL_RECEIPT.to_json()["proof"]))
CHECKPOINT_SPAN = _span(FULL_JSON, canonical_bytes(FULL_RECEIPT.checkpoint))
TAMPER_POSITIONS = [*PROOF_SPAN, *CHECKPOINT_SPAN]


def _outcome(data: bytes) -> Receipt | None:
    """The receipt if `data` still loads and verifies, None if refused (only ever as invalid)."""
    try:
        receipt = load_receipt(data)
        verify_receipt(receipt, STRICT_TRUST)
    except ReceiptInvalid:
        return None
    return receipt


def _same_claims(a: Receipt, b: Receipt) -> bool:
    return (a.entry, a.index, a.proof, note.parse_note(a.checkpoint)) == (
        b.entry,
        b.index,
        b.proof,
        note.parse_note(b.checkpoint),
    )


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TAMPER_POSITIONS), st.integers(1, 255))
def test_tampered_proof_or_checkpoint_never_verifies_a_different_claim(pos: int, xor: int) -> None:
    assert _outcome(FULL_JSON) is not None
    data = bytearray(FULL_JSON)
    data[pos] ^= xor
    survivor = _outcome(bytes(data))
    # Whatever still verifies must decode to exactly the hashes and signatures that were signed.
    assert survivor is None or _same_claims(survivor, FULL_RECEIPT)


def test_every_single_bit_flip_in_proof_or_checkpoint_is_refused() -> None:
    # Stricter than the property above: no altered byte may verify at all.  Today the unused low
    # bits of a base64 group's last character (proof hashes, signature lines) are ignored, so a
    # few flips leave the decoded bytes, and the verdict, unchanged.
    survivors = []
    for pos in TAMPER_POSITIONS:
        for bit in range(8):
            data = bytearray(FULL_JSON)
            data[pos] ^= 1 << bit
            if _outcome(bytes(data)) is not None:
                survivors.append((pos, bit, chr(FULL_JSON[pos])))
    assert survivors == [], f"{len(survivors)} tampered receipts still verify: {survivors[:6]}"
