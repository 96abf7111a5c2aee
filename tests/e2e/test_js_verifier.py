"""verify.js, the browser's verifier, agrees with ledger.core case by case: one shared verifier
(verify.js and the modules it imports), tested on the same vectors as ledger.core (docs/apps.md).

Every test runs a batch of cases through both sides, Python here and JavaScript in headless
Chromium (tests/support/jsverifier.py), and names the cases where they differ. Vectors come from
other implementations (RFC 9162 Merkle proofs, the C2SP signed-note example, Wycheproof Ed25519);
the rest are seeded or generated: random trees and bit flips, mutated keys and notes, JSON values,
and real receipts and page bundles from ledgers built here, tampered with in every field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract

from apps.beef import builders as b
from ledger.core import merkle
from ledger.core.canonical import canonical_bytes, parse_strict
from ledger.core.envelope import envelope_from_dict, sign_envelope
from ledger.core.keys import SIG_COSIGNATURE_V1, Signer, Verifier, b64decode_strict, parse_vkey
from ledger.core.note import (
    Checkpoint,
    Note,
    NoteSignature,
    cosign,
    parse_checkpoint,
    parse_note,
    sign_note,
    verified_signers,
)
from ledger.core.policy import Group, LogPolicy, TrustPolicy, parse_log_policy, parse_members
from ledger.core.receipt import receipt_from_json, verify_receipt
from ledger.errors import LedgerError, PolicyError, ProofError, ReceiptInvalid
from ledger.service.bundles import page_bundle, policy_json
from ledger.service.consortium import demo_plan
from ledger.service.node import member_directory
from ledger.service.proofs import receipt_for
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository
from tests.support.beef import MEATWORKS, PORT_AU, WAREHOUSE, BeefWorld, beef_world
from tests.support.browser import chromium
from tests.support.jsverifier import STATIC, VERIFY_JS, JSVerifier, js_verifier
from tests.support.ledgers import make_ledger

pytestmark = pytest.mark.browser

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.fixture(scope="module")
def js() -> Iterator[JSVerifier]:
    with chromium() as browser, js_verifier(browser) as verifier:
        yield verifier
        assert verifier.errors == [], verifier.errors  # e.g. a CSP violation


def assert_agree(python: dict[str, Any], javascript: dict[str, Any], what: str) -> None:
    """Both sides gave the same outcome for every case; else name the cases that differ."""
    assert python.keys() == javascript.keys(), f"{what}: case ids differ"
    differ = [case for case in python if python[case] != javascript[case]]
    shown = "\n".join(
        f"  {case}: python {python[case]!r}, js {javascript[case]!r}" for case in differ[:12]
    )
    assert not differ, f"{what}: {len(differ)} of {len(python)} cases differ:\n{shown}"


def outcome(work: Callable[[], Any], *errors: type[BaseException]) -> list[Any]:
    """["ok", value] or ["error"], the shape the JavaScript side reports (minus step/message)."""
    try:
        value = work()
    except (LedgerError, *errors):
        return ["error"]
    return ["ok", value]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- 1. Merkle proofs ----------------------------------------------------------------------------

MERKLE_JS = """
const int = (text) => {
  const big = BigInt(text);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
};
const out = {};
for (const c of arg) {
  const [first, second] = c.hashes.map(fromHex);
  const proof = c.proof.map(fromHex);
  const result = await outcome(() =>
    c.kind === "inclusion"
      ? v.verifyInclusion(int(c.a), int(c.b), first, proof, second)
      : v.verifyConsistency(int(c.a), int(c.b), proof, first, second),
  );
  out[c.id] = result[0];
}
return out;
"""


def merkle_case(
    case_id: str, kind: str, a: int, b: int, proof: list[bytes], first: bytes, second: bytes
) -> dict[str, Any]:
    """inclusion: (index, size, leaf hash, root); consistency: (size1, size2, root1, root2)."""
    return {
        "id": case_id,
        "kind": kind,
        "a": str(a),
        "b": str(b),
        "proof": [p.hex() for p in proof],
        "hashes": [first.hex(), second.hex()],
    }


def python_merkle(case: dict[str, Any]) -> str:
    a, b = int(case["a"]), int(case["b"])
    proof = [bytes.fromhex(p) for p in case["proof"]]
    first, second = (bytes.fromhex(h) for h in case["hashes"])
    try:
        if case["kind"] == "inclusion":
            merkle.verify_inclusion(a, b, first, proof, second)
        else:
            merkle.verify_consistency(a, b, proof, first, second)
    except ProofError:
        return "error"
    return "ok"


def vector_cases() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every transparency-dev/merkle vector, and what it says the outcome must be."""
    cases, wanted = [], {}
    for path in sorted((VECTORS / "merkle").rglob("*.json")):
        vector = json.loads(path.read_text())
        proof = [base64.b64decode(p) for p in vector["proof"] or []]
        case_id = str(path.relative_to(VECTORS / "merkle"))
        if "leafIdx" in vector:
            hashes = (base64.b64decode(vector["leafHash"]), base64.b64decode(vector["root"]))
            sizes = (vector["leafIdx"], vector["treeSize"])
            cases.append(merkle_case(case_id, "inclusion", *sizes, proof, *hashes))
        else:
            hashes = (base64.b64decode(vector["root1"]), base64.b64decode(vector["root2"]))
            sizes = (vector["size1"], vector["size2"])
            cases.append(merkle_case(case_id, "consistency", *sizes, proof, *hashes))
        wanted[case_id] = "error" if vector["wantErr"] else "ok"
    return cases, wanted


def random_tree_cases(seed: int = 9162) -> tuple[list[dict[str, Any]], set[str]]:
    """Proofs from ledger.core.merkle for random trees, each with bit-flipped copies (the ids in
    the returned set, which must fail) and moved indexes and sizes (which need only agree)."""
    rnd = random.Random(seed)
    leaves = [hashlib.sha256(b"leaf %d" % i).digest() for i in range(1100)]
    nodes: dict[tuple[int, int], bytes] = {}
    log = merkle.CompactRange()
    for leaf in leaves:
        for level, i, value in log.append(leaf):
            nodes[(level, i)] = value
    roots: dict[int, bytes] = {}

    def root(size: int) -> bytes:
        if size not in roots:
            roots[size] = merkle.root_from_nodes(size, nodes)
        return roots[size]

    cases: list[dict[str, Any]] = []
    flipped: set[str] = set()

    def add(case: dict[str, Any], *, must_fail: bool = False) -> None:
        cases.append(case)
        if must_fail:
            flipped.add(case["id"])

    for n in range(300):
        size = rnd.choice([rnd.randint(1, 40), rnd.randint(1, 1100), 2 ** rnd.randint(0, 10)])
        index = rnd.randrange(size)
        proof = merkle.inclusion_proof(index, size, nodes)
        good = (index, size, proof, leaves[index], root(size))
        add(merkle_case(f"inclusion/{n}/good", "inclusion", *good))
        parts = [*proof, leaves[index], root(size)]
        where, bit = rnd.randrange(len(parts)), rnd.randrange(256)
        parts[where] = flip(parts[where], bit)
        bad = (index, size, parts[:-2], parts[-2], parts[-1])
        add(merkle_case(f"inclusion/{n}/flip-{where}-{bit}", "inclusion", *bad), must_fail=True)
        moved = (index + rnd.choice([-1, 1]), size + rnd.choice([-1, 0, 1]))
        add(merkle_case(f"inclusion/{n}/moved", "inclusion", *moved, *good[2:]))
    for n in range(150):
        size2 = rnd.randint(1, 1100)
        size1 = rnd.choice([rnd.randint(0, size2), size2, 2 ** rnd.randint(0, 10) % (size2 + 1)])
        proof = merkle.consistency_proof(size1, size2, nodes)
        good_c = (size1, size2, proof, root(size1), root(size2))
        add(merkle_case(f"consistency/{n}/good", "consistency", *good_c))
        parts = [*proof, root(size1), root(size2)]
        where, bit = rnd.randrange(len(parts)), rnd.randrange(256)
        if size1 == 0 and where == len(parts) - 1:
            where = len(parts) - 2  # from the empty tree only root1 is checked (it must be empty)
        parts[where] = flip(parts[where], bit)
        bad_c = (size1, size2, parts[:-2], parts[-2], parts[-1])
        add(
            merkle_case(f"consistency/{n}/flip-{where}-{bit}", "consistency", *bad_c),
            must_fail=True,
        )
        moved_c = (size1 + rnd.choice([-1, 1]), size2 + rnd.choice([-1, 0, 1]))
        add(merkle_case(f"consistency/{n}/moved", "consistency", *moved_c, *good_c[2:]))
    return [c for c in cases if int(c["a"]) >= 0], flipped


def test_merkle_vectors_agree_with_python(js: JSVerifier) -> None:
    cases, wanted = vector_cases()
    assert len(cases) == 92  # 49 inclusion + 43 consistency: none may go missing
    python = {c["id"]: python_merkle(c) for c in cases}
    assert python == wanted
    assert_agree(python, js.run(MERKLE_JS, cases), "Merkle vectors")


def test_random_tree_proofs_verify_and_their_bit_flips_do_not(js: JSVerifier) -> None:
    cases, flipped = random_tree_cases()
    python = {c["id"]: python_merkle(c) for c in cases}
    assert all(python[c] == "error" for c in flipped)
    assert all(python[c] == "ok" for c in python if c.endswith("/good"))
    assert len(flipped) >= 440
    assert_agree(python, js.run(MERKLE_JS, cases), "random trees")


# --- 2. verifier keys and signed notes -----------------------------------------------------------

VKEY_JS = """
const out = {};
for (const [id, text] of arg) {
  const r = await outcome(() => v.parseVkey(text));
  out[id] = r[0] === "ok" ? ["ok", [r[1].name, r[1].id, r[1].type, v.hex(r[1].key)]] : ["error"];
}
return out;
"""

NOTE_JS = """
const out = {};
for (const [id, text] of arg) {
  const r = await outcome(() => v.parseNote(text));
  out[id] = r[0] === "ok"
    ? ["ok", [r[1].text, r[1].sigs.map((s) => [s.name, s.id, v.hex(s.sig)])]]
    : ["error"];
}
return out;
"""

SIGNERS_JS = """
const out = {};
for (const [id, text, vkeys] of arg) {
  out[id] = (await outcome(async () => {
    const verifiers = [];
    for (const vkey of vkeys) verifiers.push(await v.parseVkey(vkey));
    return (await v.verifiedSigners(v.parseNote(text), verifiers)).map((s) => s.name + "+" + s.id);
  })).slice(0, 2);
  if (out[id][0] === "error") out[id] = ["error"];
}
return out;
"""


def python_vkey(text: str) -> list[Any]:
    def parsed() -> list[Any]:
        verifier = parse_vkey(text)
        return [verifier.name, verifier.key_id_hex, verifier.sig_type, verifier.public_key.hex()]

    return outcome(parsed)


def python_note(text: str) -> list[Any]:
    def parsed() -> list[Any]:
        note = parse_note(text)
        sigs = [[s.name, s.key_id.hex(), s.signature.hex()] for s in note.signatures]
        return [note.text, sigs]

    return outcome(parsed)


def python_signers(text: str, vkeys: list[str]) -> list[Any]:
    def names() -> list[str]:
        verifiers = [parse_vkey(vkey) for vkey in vkeys]
        return [f"{v.name}+{v.key_id_hex}" for v in verified_signers(parse_note(text), verifiers)]

    return outcome(names)


def c2sp_example() -> tuple[str, str]:
    header, _, signed = (
        (VECTORS / "signed-note" / "example.txt").read_text("utf-8").partition("---\n")
    )
    (vkey,) = [line.removeprefix("vkey: ") for line in header.splitlines() if "vkey: " in line]
    return vkey, signed


def seeded(name: str, n: int, sig_type: int = 1) -> Signer:
    return Signer.from_seed(name, bytes([n]) * 32, sig_type)


def hand_vkey(name: str, public: bytes, sig_type: int = 1, key_id: str | None = None) -> str:
    """A vkey written out from the spec, with the right key id unless `key_id` is given."""
    kid = hashlib.sha256(name.encode("utf-8", "surrogatepass") + b"\n" + bytes([sig_type]))
    kid.update(public)
    material = base64.b64encode(bytes([sig_type]) + public).decode()
    return f"{name}+{key_id or kid.digest()[:4].hex()}+{material}"


ODD_CHARACTERS = [
    *"+/=AZaz09 \t\n-_.",
    "\u00a0",
    "\u0085",
    "\u001c",
    "\u3000",
    "\ufeff",
    "\u200b",
    "\u00e9",
    "\u2014",
    "\U0001f600",
    "\ud800",
    "\u007f",
    "\u0000",
]


def mutate_text(rnd: random.Random, text: str) -> str:
    """One character replaced, deleted or inserted, or the case of one character swapped; never
    the text itself."""
    while True:
        at = rnd.randrange(len(text))
        how = rnd.randrange(4)
        if how == 0:
            changed = text[:at] + rnd.choice(ODD_CHARACTERS) + text[at + 1 :]
        elif how == 1:
            changed = text[:at] + text[at + 1 :]
        elif how == 2:
            changed = text[:at] + rnd.choice(ODD_CHARACTERS) + text[at:]
        else:
            changed = text[:at] + text[at].swapcase() + text[at + 1 :]
        if changed != text:
            return changed


def vkey_cases() -> list[tuple[str, str]]:
    example, _ = c2sp_example()
    public = seeded("a.test/x", 1).verifier.public_key
    good = [
        example,
        seeded("sealchain.test/org/au-meatworks", 7).vkey,
        seeded("sealchain.test/witness/pboc", 8, SIG_COSIGNATURE_V1).vkey,
        hand_vkey("sealchain.test/org/\u4e2d\u6587", public),
        hand_vkey("a.test/\U0001f600", public),
    ]
    name, kid, material = example.split("+", 2)
    cases = {
        "example": example,
        "upper-case-id": f"{name}+{kid.upper()}+{material}",
        "surrounding-spaces": f" \t{example}\n ",
        "ideographic-space-around": f"\u3000{example}\u3000",
        "python-strips-x1c": f"\u001c{example}",
        "bom-is-not-space": f"\ufeff{example}",
        "nbsp-after": f"{example}\u00a0",
        "empty": "",
        "one-plus": f"{name}+{kid}",
        "no-name": f"+{kid}+{material}",
        "lone-surrogate-name": hand_vkey("a.test/\ud800", public),
        "plus-in-name": hand_vkey("a+b.test/x", public),
        "nbsp-in-name": hand_vkey("a.test/x\u00a0y", public),
        "tab-in-name": hand_vkey("tab\there", public),
        "del-in-name": hand_vkey("del\u007f", public),
        "bom-in-name": hand_vkey("a.test/\ufeffx", public),
        "zero-width-space-in-name": hand_vkey("a.test/\u200bx", public),
        "wrong-id": hand_vkey("a.test/x", public, key_id="00000000"),
        "non-hex-id": hand_vkey("a.test/x", public, key_id="530d90zz"),
        "short-key": hand_vkey("a.test/x", public[:31]),
        "long-key": hand_vkey("a.test/x", public + b"\x00"),
        "no-key": hand_vkey("a.test/x", b""),
        "type-0": hand_vkey("a.test/x", public, 0),
        "type-2": hand_vkey("a.test/x", public, 2),
        "type-4": hand_vkey("a.test/x", public, 4),
        "type-255": hand_vkey("a.test/x", public, 255),
        "truncated-base64": f"{name}+{kid}+{material[:-1]}",
        "unpadded-base64": f"{name}+{kid}+{material.rstrip('=')}",
        "low-bits-set": f"{name}+{kid}+{material[:-1]}l",
        "not-a-string-of-base64": f"{name}+{kid}+{material}!",
    }
    for kid_text in ["530d903", "530d903a0", "530d 03a", ""]:
        cases[f"key-id-{kid_text!r}"] = f"{name}+{kid_text}+{material}"
    rnd = random.Random(8032)
    for n in range(300):
        cases[f"mutated/{n}"] = mutate_text(rnd, rnd.choice(good))
    return list(cases.items())


def test_vkeys_parse_alike(js: JSVerifier) -> None:
    cases = vkey_cases()
    python = {case_id: python_vkey(text) for case_id, text in cases}
    assert python["example"] == ["ok", ["example.com/foo", "530d903a", 1, python["example"][1][3]]]
    refused = sum(1 for result in python.values() if result == ["error"])
    assert 150 < refused < len(cases) - 10, refused  # both kinds of outcome, plenty of each
    assert_agree(python, js.run(VKEY_JS, cases), "vkeys")


def note_cases() -> tuple[list[tuple[str, str]], str]:
    """Malformed notes where Python raises, and 300 mutations of a real cosigned checkpoint."""
    _, example = c2sp_example()
    log = seeded("sealchain.test/log", 1)
    witness = seeded("sealchain.test/witness/w1", 2, SIG_COSIGNATURE_V1)
    root = base64.b64encode(hashlib.sha256(b"root").digest()).decode()
    body = f"sealchain.test/log\n42\n{root}\n"
    signed = sign_note(body, [log])
    checkpoint = str(signed.with_signatures([cosign(body, witness, 1_764_318_600)]))
    line = NoteSignature(log.name, log.verifier.key_id, b"\x00" * 64).line()
    cases = {
        "example": example,
        "checkpoint": checkpoint,
        "no-blank-line": "hello\n" + line,
        "no-final-newline": checkpoint[:-1],
        "no-signatures": body + "\n",
        "blank-then-nothing": body + "\n\n",
        "text-ends-in-blank-lines": "a\n\n\n" + line,
        "sixty-four-signatures": body + "\n" + line * 64,
        "sixty-five-signatures": body + "\n" + line * 65,
        "hyphen-not-em-dash": body + "\n" + line.replace("\u2014", "-"),
        "no-space-after-dash": body + "\n" + line.replace("\u2014 ", "\u2014"),
        "two-spaces": body + "\n" + line.replace(" ", "  ", 2),
        "space-in-payload": body + "\n" + line[:-5] + " " + line[-5:],
        "tab-in-text": "a\tb\n\n" + line,
        "carriage-return": "a\r\n\n" + line,
        "nul": "a\u0000\n\n" + line,
        "del-is-allowed-in-text": "a\u007f\n\n" + line,
        "lone-surrogate": "a\ud800\n\n" + line,
        "too-large": "a" * (64 * 1024) + "\n\n" + line,
        "just-under-the-limit": "a" * (64 * 1024 - len(line.encode()) - 3) + "\n\n" + line,
        "payload-of-four-bytes": body + "\n\u2014 a.test/x AAAAAA==\n",
        "payload-of-five-bytes": body + "\n\u2014 a.test/x AAAAAAA=\n",
        "empty-name": body + "\n\u2014  AAAAAAA=\n",
        "plus-in-name": body + "\n\u2014 a+b AAAAAAA=\n",
        "nbsp-in-name": body + "\n\u2014 a\u00a0b AAAAAAA=\n",
        "non-canonical-base64": body + "\n\u2014 a.test/x AAAAAAB=\n",
        "empty-signature-line": body + "\n" + line + "\n",
    }
    rnd = random.Random(6962)
    for n in range(300):
        cases[f"mutated/{n}"] = mutate_text(rnd, checkpoint)
    return list(cases.items()), checkpoint


def test_signed_notes_parse_alike(js: JSVerifier) -> None:
    cases, _ = note_cases()
    python = {case_id: python_note(text) for case_id, text in cases}
    assert python["example"][0] == "ok" and python["checkpoint"][0] == "ok"
    assert python["too-large"] == ["error"] and python["just-under-the-limit"][0] == "ok"
    refused = sum(1 for result in python.values() if result == ["error"])
    assert 100 < refused < len(cases) - 50, refused
    assert_agree(python, js.run(NOTE_JS, cases), "signed notes")


def test_note_signatures_verify_alike(js: JSVerifier) -> None:
    """Which keys' signatures count, as signed-note says: unknown ones are ignored, a known one
    that fails rejects the note. Includes the C2SP example and tampered copies of it."""
    vkey, example = c2sp_example()
    known, stranger = seeded("sealchain.test/a", 1), seeded("other.test/b", 2)
    impostor = seeded("sealchain.test/a", 3)
    other = seeded("sealchain.test/b", 4)
    witness = seeded("sealchain.test/witness", 5, SIG_COSIGNATURE_V1)
    hello = sign_note("hello\n", [stranger, known])
    forged = NoteSignature(impostor.name, impostor.verifier.key_id, b"\x00" * 64)
    bad_known = NoteSignature(other.name, other.verifier.key_id, other.sign(b"other text\n"))
    cosigned = hello.with_signatures([cosign("hello\n", witness, 1_764_318_600)])
    late = cosign("hello\n", witness, 2**63 - 1)
    too_late = NoteSignature(late.name, late.key_id, b"\x80" + late.signature[1:])
    verifiers = [known.vkey, other.vkey, witness.vkey]
    cases = {
        "c2sp-example": (example, [vkey]),
        "c2sp-example-unknown-key": (example, [known.vkey]),
        "stranger-ignored": (str(hello), [known.vkey]),
        "both-known": (str(hello), [known.vkey, stranger.vkey]),
        "same-name-impostor-ignored": (str(hello.with_signatures([forged])), [known.vkey]),
        "known-key-fails": (str(hello.with_signatures([bad_known])), verifiers),
        "cosignature-counts": (str(cosigned), verifiers),
        "cosignature-time-2^63-1": (str(hello.with_signatures([late])), verifiers),
        "cosignature-time-2^63": (str(hello.with_signatures([too_late])), verifiers),
        "cosignature-as-plain-key": (
            str(cosigned),
            [hand_vkey(witness.name, witness.verifier.public_key, 1)],
        ),
    }
    for cut in (-1, 1):
        sig = hello.signatures[1]
        mangled = NoteSignature(sig.name, sig.key_id, (sig.signature + b"\x00")[:cut] * 1)
        cases[f"known-signature-length-{cut}"] = (
            str(sign_note("hello\n", [stranger]).with_signatures([mangled])),
            [known.vkey],
        )
    rnd = random.Random(1)
    text_end = example.index("\n\n")
    for n in range(60):
        at = rnd.randrange(text_end)
        tampered = example[:at] + rnd.choice("abcXYZ .!") + example[at + 1 :]
        cases[f"c2sp-example-tampered/{n}"] = (tampered, [vkey])
    python = {case_id: python_signers(*case) for case_id, case in cases.items()}
    assert python["c2sp-example"] == ["ok", ["example.com/foo+530d903a"]]
    assert python["known-key-fails"] == ["error"]
    assert sum(1 for r in python.values() if r == ["error"]) > 50
    javascript = js.run(SIGNERS_JS, [[case_id, *case] for case_id, case in cases.items()])
    assert_agree(python, javascript, "note signatures")


# --- 3. Ed25519: Wycheproof ----------------------------------------------------------------------

ED25519_JS = """
const out = {};
for (const [id, pk, msg, sig] of arg) {
  out[id] = await outcome(() => v.ed25519Verify(fromHex(pk), fromHex(sig), fromHex(msg)));
}
return out;
"""


def test_wycheproof_ed25519_agrees_with_python_and_the_vectors(js: JSVerifier) -> None:
    suite = json.loads((VECTORS / "wycheproof" / "ed25519_test.json").read_text())
    cases = [
        (f"tcId{test['tcId']}", group["publicKey"]["pk"], test["msg"], test["sig"])
        for group in suite["testGroups"]
        for test in group["tests"]
    ]
    assert len(cases) == suite["numberOfTests"] == 151
    expected = {
        f"tcId{test['tcId']}": ["ok", test["result"] == "valid"]
        for group in suite["testGroups"]
        for test in group["tests"]
    }
    python = {
        case_id: [
            "ok",
            Verifier("wycheproof.example/ed25519", bytes.fromhex(pk)).verify(
                bytes.fromhex(msg), bytes.fromhex(sig)
            ),
        ]
        for case_id, pk, msg, sig in cases
    }
    assert python == expected
    assert_agree(python, js.run(ED25519_JS, cases), "Wycheproof Ed25519")


# --- 4. canonical JSON (RFC 8785) ----------------------------------------------------------------

CANONICAL_JS = """
const out = {};
for (const [id, text] of arg) {
  out[id] = (await outcome(() => v.canonicalJSON(JSON.parse(text)))).slice(0, 2);
  if (out[id][0] === "error") out[id] = ["error"];
}
return out;
"""

STRING_PIECES = [
    *"azAZ09 _-",
    '"',
    "\\",
    "\b",
    "\f",
    "\n",
    "\r",
    "\t",
    "\u0000",
    "\u001f",
    "\u007f",
    "\u0080",
    "\u00e9",
    "\u4e2d",
    "\u2028",
    "\u2029",
    "\ue000",
    "\ufeff",
    "\ufffd",
    "\uffff",
    "\U00010000",
    "\U0001f600",
    "\U0001f9d1\u200d\U0001f33e",
    "\U0010ffff",
    "</script>",
]
# Keys whose order differs between UTF-16 code units (JCS) and code points: U+E000..U+FFFF sort
# after the surrogates that encode U+10000 and above.
KEY_PIECES = ["", "a", "A", "b", "\u00e9", "\ue000", "\ufffd", "\uffff", "\U00010000", "\U0001f600"]
SPECIAL_NUMBERS: list[int | float] = [
    0,
    -0.0,
    0.0,
    1,
    -1,
    2**53 - 1,
    -(2**53 - 1),
    2**53,
    -(2**53),
    2**53 + 1,
    float(2**53 - 1),
    float(2**53),
    1e20,
    9.999999999999999e20,
    1e21,
    -1e21,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    1e-7,
    1e-6,
    0.1,
    0.30000000000000004,
    1 / 3,
    123456789.0,
    1.5,
    333333333.3333333,
    4.35,
    0.000001,
    1e-27,
    295147905179352830000.0,
]


def random_number(rnd: random.Random) -> int | float:
    kind = rnd.randrange(6)
    if kind == 0:
        return rnd.choice(SPECIAL_NUMBERS)
    if kind == 1:
        return rnd.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 2:
        return rnd.randint(-1000, 1000)
    if kind == 3:  # any finite double, by its bits
        while not math.isfinite(value := struct.unpack("<d", rnd.randbytes(8))[0]):
            pass
        return value
    if kind == 4:
        return round(rnd.uniform(-1e6, 1e6), rnd.randint(0, 8))
    return rnd.uniform(-1, 1) * 10 ** rnd.randint(-30, 30)


def random_string(rnd: random.Random, pieces: list[str], longest: int = 6) -> str:
    text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, longest)))
    if rnd.random() < 0.02:  # now and then a lone surrogate, which both sides must refuse
        at = rnd.randint(0, len(text))
        text = text[:at] + rnd.choice(["\ud800", "\udbff", "\udc00", "\udfff"]) + text[at:]
    return text


def random_json(rnd: random.Random, depth: int = 0) -> Any:
    kind = rnd.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rnd.choice([None, True, False])
    if kind in (1, 2):
        return random_number(rnd)
    if kind in (3, 4):
        return random_string(rnd, STRING_PIECES)
    if kind in (5, 6):
        keys = {random_string(rnd, KEY_PIECES, 3) for _ in range(rnd.randint(0, 6))}
        return {key: random_json(rnd, depth + 1) for key in keys}
    return [random_json(rnd, depth + 1) for _ in range(rnd.randint(0, 5))]


def python_canonical(value: Any) -> list[Any]:
    return outcome(lambda: canonical_bytes(value).decode("utf-8"))


def test_canonical_json_agrees_with_rfc8785(js: JSVerifier) -> None:
    """Seeded JSON values: floats of every kind, strings with escapes, astral characters and
    keys that sort differently by UTF-16 and by code point. Integers stay below 1e21: past it a
    Python int (refused) and a float (written as 1e+21) are the same JavaScript number."""
    rnd = random.Random(8785)
    values: list[Any] = [*SPECIAL_NUMBERS, {k: i for i, k in enumerate(KEY_PIECES)}]
    values += [{"z": [{"\U0001f600": 1, "\uffff": 2}]}, "\u2028\u2029", [[[[]]]], {}]
    values += [random_json(rnd) for _ in range(400)]
    cases = [
        (f"value/{n}", json.dumps(value, ensure_ascii=True, allow_nan=False))
        for n, value in enumerate(values)
    ]
    python = {case_id: python_canonical(json.loads(text)) for case_id, text in cases}
    key_order = python[f"value/{len(SPECIAL_NUMBERS)}"]
    assert key_order[0] == "ok" and key_order[1].index("\U0001f600") < key_order[1].index("\ue000")
    refused = sum(1 for result in python.values() if result == ["error"])
    assert 10 < refused < len(cases) / 2, refused
    assert_agree(python, js.run(CANONICAL_JS, cases), "canonical JSON")


# --- 5. receipts ---------------------------------------------------------------------------------

EVIDENCE = b"photo of the carcass tag, 2026-11-28"
WITNESSES = [
    Signer.from_seed(f"sealchain.test/witness/w{i}", bytes([0x40 + i]) * 32, SIG_COSIGNATURE_V1)
    for i in (1, 2, 3)
]
STRANGER = Signer.from_seed("sealchain.test/witness/stranger", b"\x70" * 32, SIG_COSIGNATURE_V1)

RECEIPT_JS = """
const out = {};
for (const c of arg.cases) {
  const data = c.data === null ? undefined : fromHex(c.data);
  const policy = arg.policies[c.policy];
  const r = await outcome(() => v.verifyReceipt(c.receipt, policy, c.members, { data }));
  if (r[0] === "ok") out[c.id] = ["ok", r[1].steps, r[1].txId, r[1].index, r[1].size];
  else if (r[0] === "error") out[c.id] = ["error", r[1]];
  else out[c.id] = r;
}
return out;
"""


@dataclass
class ReceiptWorld:
    receipts: list[dict[str, Any]]  # receipt JSON, latest checkpoint (one older one at the end)
    members: list[dict[str, Any]]  # members.txt as JSON: [{org, vkey, revoked_at}]
    policies: dict[str, LogPolicy]
    evidence_index: int  # the entry whose body commits to EVIDENCE
    old_key_index: int  # signed by writer-a's first key, before that key was revoked
    revoked_at: int


def policy_variants(log: Verifier) -> dict[str, LogPolicy]:
    """Trust policies over the ledger's log key and three witnesses, each read back from its
    tlog-policy text so Python holds exactly what a policy file would give it."""
    witnesses = {f"W{i}": w.verifier for i, w in enumerate(WITNESSES, start=1)}
    rotated = Signer.from_seed(log.name, b"\x66" * 32).verifier  # same origin, another key

    def make(quorum: str, groups: list[Group] = (), logs: list[Verifier] = ()) -> LogPolicy:
        made = LogPolicy(list(logs) or [log], dict(witnesses), {g.name: g for g in groups}, quorum)
        return parse_log_policy(made.to_text())

    three = ("W1", "W2", "W3")
    return {
        "none": make("none"),
        "two-of-three": make("two-of-three", [Group("two-of-three", 2, three)]),
        "all-three": make("all-three", [Group("all-three", 3, three)]),
        "w2": make("W2"),
        "nested": make(
            "either", [Group("pair", 2, ("W1", "W2")), Group("either", 1, ("pair", "W3"))]
        ),
        # a log that rotates its key is listed once per key; either may have signed
        "rotated-old-first": make("none", logs=[log, rotated]),
        "rotated-new-first": make("none", logs=[rotated, log]),
        "rotated-away": make("none", logs=[rotated]),
    }


def receipt_world(home: Path) -> ReceiptWorld:
    """A sample ledger: notes and claims by two writers, a second key for writer-a, then its
    first key revoked, a rename, a new member; receipts for every entry (ledger.service.proofs)."""
    ledger = make_ledger(home, None)
    try:
        ledger.fill(5, 3)
        digest = hashlib.sha256(EVIDENCE).hexdigest()
        (evidence,) = ledger.accept(
            ledger.sign("writer-b", "sample.note", {"text": "evidence", "sha256": digest})
        )
        fresh = Signer.from_seed("sealchain.test/org/writer-a", b"\x21" * 32)
        ledger.accept(
            ledger.sign("admin", "ledger.key.add", {"org": "writer-a", "vkey": fresh.vkey})
        )
        (older,) = ledger.accept(
            ledger.sign("writer-a", "sample.note", {"text": "old key, before"})
        )
        old_key = ledger.signers["writer-a"].key_id_hex
        revoke = {"org": "writer-a", "key": old_key, "reason": "laptop lost"}
        (revocation,) = ledger.accept(ledger.sign("admin", "ledger.key.revoke", revoke))
        ledger.accept(
            sign_envelope(fresh, type="sample.note", org="writer-a", body={"text": "new key"})
        )
        newcomer = Signer.from_seed("sealchain.test/org/newcomer", b"\x22" * 32)
        admit = {
            "org": "newcomer",
            "name": "New",
            "roles": ["sample.writer"],
            "vkeys": [newcomer.vkey],
        }
        ledger.accept(ledger.sign("admin", "ledger.member.add", admit))
        ledger.accept(
            ledger.sign("admin", "ledger.member.update", {"org": "writer-b", "name": "B"})
        )
        note_text = '\u4e2d\u6587 \U0001f600 "quoted" \\ and 1.25 kg'
        ledger.accept(
            sign_envelope(newcomer, type="sample.note", org="newcomer", body={"text": note_text})
        )
        with read_transaction(ledger.node.engine) as conn:
            stored = list(Repository(conn).iter_entries())
            receipts = [receipt_for(conn, entry.tx_id).to_json() for entry in stored]
            receipts.append(
                receipt_for(conn, stored[older.index].tx_id, size=older.tree_size).to_json()
            )
            directory = member_directory(conn)
        members = [
            {"org": k.org, "vkey": k.verifier.vkey, "revoked_at": k.revoked_at}
            for k in directory.keys
        ]
        log = ledger.node.log_policy.logs[0]
        return ReceiptWorld(
            receipts, members, policy_variants(log), evidence.index, older.index, revocation.index
        )
    finally:
        ledger.close()


def cosigned(note_text: str, names: list[str]) -> str:
    """The checkpoint with cosignatures by the witnesses named (W1..W3), as witnesses add them."""
    note = parse_note(note_text)
    signers = [WITNESSES[int(name[1:]) - 1] for name in names]
    lines = [cosign(note.text, w, 1_764_318_600 + n) for n, w in enumerate(signers)]
    return str(note.with_signatures(lines))


def members_text(members: list[dict[str, Any]]) -> str:
    lines = [
        f"{m['org']} {m['vkey']}" + ("" if m["revoked_at"] is None else f" {m['revoked_at']}")
        for m in members
    ]
    return "\n".join(lines) + "\n"


def python_receipt(case: dict[str, Any], policies: dict[str, LogPolicy]) -> list[Any]:
    """verify_receipt's verdict: ["ok", steps, tx_id, index, size] or ["error", step]; a member
    list or receipt Python refuses before verifying counts as step 0."""
    data = None if case["data"] is None else bytes.fromhex(case["data"])
    try:
        directory = parse_members(members_text(case["members"]))
        receipt = receipt_from_json(case["receipt"])
        result = verify_receipt(
            receipt, TrustPolicy(policies[case["policy"]], directory), data=data
        )
    except ReceiptInvalid as e:
        return ["error", e.step]
    except PolicyError:
        return ["error", 0]
    except Exception as e:  # reported as a difference, not raised: the case id says where
        return ["crash", f"{type(e).__name__}: {e}"]
    steps = [n for n, _ in result.steps]
    return ["ok", steps, result.envelope.tx_id, result.index, result.checkpoint.size]


def receipt_case(
    case_id: str,
    receipt: dict[str, Any],
    policy: str,
    members: list[dict[str, Any]],
    data: bytes | None = None,
) -> dict[str, Any]:
    return {
        "id": case_id,
        "receipt": receipt,
        "policy": policy,
        "members": members,
        "data": None if data is None else data.hex(),
    }


# (policy, cosigners, meets its quorum)
QUORUM_CASES = [
    ("none", [], True),
    ("two-of-three", ["W1", "W2"], True),
    ("two-of-three", ["W3"], False),
    ("all-three", ["W1", "W2"], False),
    ("all-three", ["W1", "W2", "W3"], True),
    ("w2", ["W1", "W3"], False),
    ("nested", ["W1", "W2"], True),
    ("nested", ["W3"], True),
    ("nested", ["W1"], False),
    ("rotated-old-first", [], True),
    ("rotated-new-first", [], True),
    ("rotated-away", [], False),
]


def unmutated_cases(world: ReceiptWorld) -> tuple[list[dict[str, Any]], set[str]]:
    """Every receipt under every policy; returns the cases and the ids that must verify."""
    cases, good = [], set()
    for n, receipt in enumerate(world.receipts):
        for policy, names, meets in QUORUM_CASES:
            with_cosignatures = {**receipt, "checkpoint": cosigned(receipt["checkpoint"], names)}
            case_id = f"receipt/{n}/{policy}/{'+'.join(names) or 'no-witness'}"
            cases.append(receipt_case(case_id, with_cosignatures, policy, world.members))
            if meets:
                good.add(case_id)
    evidence = world.receipts[world.evidence_index]
    for name, receipt, data in [
        ("matching", evidence, EVIDENCE),
        ("one-byte-more", evidence, EVIDENCE + b"."),
        ("empty", evidence, b""),
        ("entry-commits-to-none", world.receipts[0], EVIDENCE),
    ]:
        cases.append(receipt_case(f"data/{name}", receipt, "none", world.members, data))
    good.add("data/matching")
    # The revoked key's last good entry, with its revocation moved around it: a key revoked at r
    # signs nothing at r or later.
    index = world.old_key_index
    receipt = world.receipts[index]
    for revoked_at in (0, index - 1, index, index + 1, world.revoked_at, None):
        members = json.loads(json.dumps(world.members))
        for member in members:
            if (
                member["org"] == receipt["entry"]["org"]
                and receipt["entry"]["key"] in member["vkey"]
            ):
                member["revoked_at"] = revoked_at
        case_id = f"revoked-at-{revoked_at}/index-{index}"
        cases.append(receipt_case(case_id, receipt, "none", members))
        if revoked_at is None or revoked_at > index:
            good.add(case_id)
    return cases, good


def mutate_entry_byte(rnd: random.Random, receipt: dict[str, Any]) -> str:
    """A byte of the entry's canonical bytes changed, while the result is still strict JSON."""
    raw = canonical_bytes(receipt["entry"])
    for _ in range(1000):
        at, xor = rnd.randrange(len(raw)), rnd.randint(1, 255)
        changed = bytearray(raw)
        changed[at] ^= xor
        try:
            receipt["entry"] = parse_strict(bytes(changed))
        except LedgerError:
            continue
        return f"entry-byte-{at}-{xor}"
    raise AssertionError("no byte change kept the entry JSON")


def mutate_proof(rnd: random.Random, receipt: dict[str, Any]) -> str:
    proof = receipt["proof"]
    how = rnd.randrange(5) if proof else 3
    at = rnd.randrange(len(proof)) if proof else 0
    if how == 0:
        bit = rnd.randrange(256)
        proof[at] = base64.b64encode(flip(base64.b64decode(proof[at]), bit)).decode()
        return f"proof-{at}-bit-{bit}"
    if how == 1:
        pos = rnd.randrange(len(proof[at]))
        char = rnd.choice("AQgw/+=a9_-")
        proof[at] = proof[at][:pos] + char + proof[at][pos + 1 :]
        return f"proof-{at}-char-{pos}-{char}"
    if how == 2:
        del proof[at]
        return f"proof-{at}-dropped"
    if how == 3:
        proof.insert(rnd.randint(0, len(proof)), base64.b64encode(rnd.randbytes(32)).decode())
        return "proof-hash-inserted"
    proof.reverse()
    return "proof-reversed"


def mutate_index(rnd: random.Random, receipt: dict[str, Any]) -> str:
    index, size = receipt["index"], int(receipt["checkpoint"].split("\n")[1])
    choices: list[Any] = [index + 1, index - 1, 0, size, size + 5, -1, 1.5, "3", True, None]
    choices += [index + 2**32, 2**40]
    receipt["index"] = rnd.choice(choices)
    return f"index-{receipt['index']!r}"


def mutate_cosignature(rnd: random.Random, receipt: dict[str, Any]) -> str:
    note = parse_note(receipt["checkpoint"])
    log_line, *cosigs = note.signatures
    at = rnd.randrange(len(cosigs))
    sig = cosigs[at]
    how = rnd.randrange(8)
    if how == 0:
        time = (int.from_bytes(sig.signature[:8], "big") + 1).to_bytes(8, "big")
        cosigs[at] = NoteSignature(sig.name, sig.key_id, time + sig.signature[8:])
    elif how == 1:
        cosigs[at] = NoteSignature(sig.name, sig.key_id, flip(sig.signature, rnd.randrange(576)))
    elif how == 2:
        cosigs[at] = NoteSignature(sig.name, flip(sig.key_id, rnd.randrange(32)), sig.signature)
    elif how == 3:
        cosigs[at] = NoteSignature(WITNESSES[2].name, sig.key_id, sig.signature)
    elif how == 4:
        del cosigs[at]
    elif how == 5:
        cosigs.append(sig)
    elif how == 6:
        cosigs.append(cosign(note.text, STRANGER, 7))
    else:
        cosigs[at] = NoteSignature(sig.name, sig.key_id, sig.signature[:-1])
    order = [log_line, *cosigs] if rnd.random() < 0.7 else [*cosigs, log_line]
    receipt["checkpoint"] = str(Note(note.text, tuple(order)))
    return f"cosignature-{at}-how-{how}"


def mutate_members(
    rnd: random.Random, receipt: dict[str, Any], members: list[dict[str, Any]]
) -> str:
    entry = receipt["entry"]
    mine = [m for m in members if m["org"] == entry["org"] and entry["key"] in m["vkey"]]
    target = mine[0] if mine else rnd.choice(members)
    index = receipt["index"]
    how = rnd.randrange(8)
    if how == 0:
        members.remove(target)
    elif how == 1:
        target["revoked_at"] = rnd.choice([index, index + 1, 0, None, index - 1])
    elif how == 2:
        target["vkey"] = rnd.choice([m for m in members if m is not target])["vkey"]
    elif how == 3:
        members.append(dict(target))
    elif how == 4:
        target["vkey"] = mutate_text(rnd, target["vkey"]).replace(" ", "").replace("\n", "")
    elif how == 5:
        target["org"] = rnd.choice(["admin", "writer-b", "writer-z"])
    elif how == 6:
        target["revoked_at"] = -1
    else:
        target["vkey"] = STRANGER.vkey  # a cosigner key is no member key
    return f"members-how-{how}"


def mutated_cases(world: ReceiptWorld, count: int = 240) -> list[dict[str, Any]]:
    rnd = random.Random(2019)
    cases = []
    for n in range(count):
        base = rnd.randrange(len(world.receipts))
        policy, names = rnd.choice(
            [("two-of-three", ["W1", "W2"]), ("all-three", ["W1", "W2", "W3"])]
        )
        receipt = json.loads(json.dumps(world.receipts[base]))
        receipt["checkpoint"] = cosigned(receipt["checkpoint"], names)
        members = json.loads(json.dumps(world.members))
        kind = rnd.randrange(6)
        if kind == 0:
            what = mutate_entry_byte(rnd, receipt)
        elif kind == 1:
            what = mutate_proof(rnd, receipt)
        elif kind == 2:
            receipt["checkpoint"] = mutate_text(rnd, receipt["checkpoint"])
            what = "checkpoint-text"
        elif kind == 3:
            what = mutate_index(rnd, receipt)
        elif kind == 4:
            what = mutate_cosignature(rnd, receipt)
        else:
            what = mutate_members(rnd, receipt, members)
        cases.append(receipt_case(f"mutated/{n}/receipt-{base}/{what}", receipt, policy, members))
    return cases


@pytest.fixture(scope="module")
def receipts(tmp_path_factory: pytest.TempPathFactory) -> ReceiptWorld:
    return receipt_world(tmp_path_factory.mktemp("receipts") / "home")


def run_receipts(
    js: JSVerifier, world: ReceiptWorld, cases: list[dict[str, Any]]
) -> dict[str, Any]:
    policies = {name: policy_json(policy) for name, policy in world.policies.items()}
    return js.run(RECEIPT_JS, {"cases": cases, "policies": policies})


def test_real_receipts_verify_alike_under_every_quorum(
    js: JSVerifier, receipts: ReceiptWorld
) -> None:
    cases, good = unmutated_cases(receipts)
    python = {c["id"]: python_receipt(c, receipts.policies) for c in cases}
    assert {case_id for case_id, result in python.items() if result[0] == "ok"} == good
    assert python["data/matching"][1] == [1, 2, 3, 4, 5]
    old_key = f"receipt/{receipts.old_key_index}/none/no-witness"
    assert python[old_key][0] == "ok"  # signed before its key was revoked: still valid
    assert {result[1] for case_id, result in python.items() if case_id not in good} == {1, 3, 4, 5}
    assert_agree(python, run_receipts(js, receipts, cases), "real receipts")


def test_tampered_receipts_fail_at_the_same_step(js: JSVerifier, receipts: ReceiptWorld) -> None:
    """200+ copies changed at random places (an entry byte, a proof hash, the checkpoint text, the
    index, a cosignature line, the member list): both sides accept the same ones and refuse the
    rest at the same numbered step."""
    cases = mutated_cases(receipts)
    python = {c["id"]: python_receipt(c, receipts.policies) for c in cases}
    refused = [result for result in python.values() if result[0] == "error"]
    assert len(refused) > 0.7 * len(cases), f"only {len(refused)} of {len(cases)} refused"
    assert {result[1] for result in refused} >= {0, 1, 2, 3, 4}
    assert not [case_id for case_id, result in python.items() if result[0] == "crash"]
    assert_agree(python, run_receipts(js, receipts, cases), "tampered receipts")


OPEN_JS = """
const out = {};
for (const [id, text, policy] of arg.cases) {
  const r = await outcome(() => v.openCheckpoint(text, arg.policies[policy]));
  out[id] = r[0] === "ok"
    ? ["ok", [r[1].origin, r[1].size, v.hex(r[1].root), r[1].logId, r[1].cosigners]]
    : ["error"];
}
return out;
"""


def python_open(text: str, policy: LogPolicy) -> list[Any]:
    """ledger.core's reading of a cosigned checkpoint: log signature by a key of its origin,
    every known cosignature good, quorum met."""

    def opened() -> list[Any]:
        note = parse_note(text)
        checkpoint = parse_checkpoint(note.text)
        logs = verified_signers(note, [v for v in policy.logs if v.name == checkpoint.origin])
        names = {w.key_id: name for name, w in policy.witnesses.items()}
        cosigners = sorted(
            names[w.key_id] for w in verified_signers(note, policy.witnesses.values())
        )
        if not logs or not policy.quorum_met(set(cosigners)):
            raise PolicyError("not signed by the log, or the quorum is not met")
        size, root = checkpoint.size, checkpoint.root.hex()
        return [checkpoint.origin, size, root, logs[0].key_id_hex, cosigners]

    return outcome(opened)


def test_checkpoints_open_alike(js: JSVerifier, receipts: ReceiptWorld) -> None:
    """openCheckpoint against ledger.core: every quorum case, then mutated checkpoint texts."""
    latest = receipts.receipts[0]["checkpoint"]
    cases, meeting = [], set()
    for policy, names, meets in QUORUM_CASES:
        case_id = f"{policy}/{'+'.join(names) or 'no-witness'}"
        cases.append((case_id, cosigned(latest, names), policy))
        if meets:
            meeting.add(case_id)
    rnd = random.Random(4)
    full = cosigned(latest, ["W1", "W2", "W3"])
    cases += [(f"mutated/{n}", mutate_text(rnd, full), "two-of-three") for n in range(80)]
    python = {case_id: python_open(text, receipts.policies[p]) for case_id, text, p in cases}
    opened = {case_id for case_id, result in python.items() if result[0] == "ok"}
    assert {case_id for case_id in opened if not case_id.startswith("mutated/")} == meeting
    assert 40 < sum(1 for r in python.values() if r == ["error"]) < len(cases)
    policies = {name: policy_json(policy) for name, policy in receipts.policies.items()}
    assert_agree(python, js.run(OPEN_JS, {"cases": cases, "policies": policies}), "checkpoints")


# --- 6. page bundles -----------------------------------------------------------------------------

BUNDLE_JS = """
const out = {};
for (const [id, bundle] of arg) {
  const r = await outcome(() => v.verifyBundle(bundle));
  if (r[0] !== "ok") {
    out[id] = r;
    continue;
  }
  const { checkpoint, entries, members } = r[1];
  const people = [...members].map(([org, m]) => [
    org,
    [m.name, [...m.roles].sort(), m.active, m.filing],
  ]);
  out[id] = ["ok", {
    size: checkpoint.size,
    root: v.hex(checkpoint.root),
    logId: checkpoint.logId,
    cosigners: checkpoint.cosigners,
    entries: entries.map((e) => [e.index, e.type, e.org, e.txId, v.canonicalJSON(e.body)]),
    members: Object.fromEntries(people),
  }];
}
return out;
"""


@dataclass
class BundleWorld:
    """A demo beef ledger with governance after genesis, its bundles, and what Python knows."""

    log_signer: Signer
    policy: LogPolicy
    witness_signers: dict[str, Signer]  # the demo's witnesses, by policy name
    full: dict[str, Any]  # page_bundle of every entry
    page: dict[str, Any]  # page_bundle of a pack's entries (and so every governance entry)
    page_indexes: list[int]
    stored: list[bytes]  # every entry's bytes, by index
    members: dict[str, list[Any]]  # the projection: org -> [name, sorted roles, active, filing]
    refused: dict[str, tuple[bytes, str]]  # entries the sequencer refused, and its problem code
    revoked_at: int
    key_add_index: int


def bundle_world(home: Path) -> BundleWorld:
    """beef_world with a carton's journey, a key rotation at au-exporter (key.add, then the old
    key revoked), a rename, a deactivation; then entries the pipeline refuses, kept for forging."""
    world = beef_world(home)
    try:
        packs = world.commission(4)
        carton = world.carton(1)
        world.ok("au-meatworks", b.aggregate(carton, packs[:2], MEATWORKS, b.now()))
        world.ok(
            "au-meatworks", b.ship([carton], "au-meatworks", "au-exporter", MEATWORKS, b.now())
        )
        world.ok("au-exporter", b.receive([carton], "au-meatworks", PORT_AU, b.now()))
        old = world.signers["au-exporter"]
        fresh = Signer.from_seed(old.name, b"\x31" * 32)
        rotate = {"org": "au-exporter", "vkey": fresh.vkey}
        key_add = world.ok("cac-registry", ("ledger.key.add", rotate))
        revoke = {"org": "au-exporter", "key": old.key_id_hex, "reason": "laptop lost"}
        revocation = world.ok("cac-registry", ("ledger.key.revoke", revoke))
        world.signers["au-exporter"] = fresh
        world.ok("au-exporter", b.ship([carton], "au-exporter", "sh-importer", PORT_AU, b.now()))
        rename = {"org": "retail-b", "name": "Retailer B, Xuhui", "filing": "SH-2026-0042"}
        world.ok("cac-registry", ("ledger.member.update", rename))
        # "no" is how pydantic's lax mode, and so the pipeline, may read False
        world.ok("cac-registry", ("ledger.member.update", {"org": "retail-c", "active": "no"}))
        world.ok("sh-importer", b.receive([carton], "au-exporter", WAREHOUSE, b.now()))
        refused = refused_entries(world, old, carton)
        sequencer = world.node.sequencer
        assert sequencer is not None
        with read_transaction(world.node.engine) as conn:
            repo = Repository(conn)
            stored = [entry.data for entry in repo.iter_entries()]
            page_indexes = [1, 2]  # the commissioning and the packing of the carton
            full = page_bundle(conn, range(len(stored)), world.node.log_policy)
            page = page_bundle(conn, page_indexes, world.node.log_policy)
            members = {
                m.org: [m.name, sorted(m.roles), m.active, m.filing] for m in repo.all_members()
            }
        plan = demo_plan()
        witnesses = {
            org: world.node.home.witness_signer(org, plan.witness_key_name(org))
            for org in plan.witnesses
        }
        return BundleWorld(
            sequencer.log_signer,
            world.node.log_policy,
            witnesses,
            full,
            page,
            page_indexes,
            stored,
            members,
            refused,
            revocation.index,
            key_add.index,
        )
    finally:
        world.node.close()


def refused_entries(world: BeefWorld, old_key: Signer, carton: str) -> dict[str, tuple[bytes, str]]:
    """Signed entries the live pipeline refuses, with its problem code: the ground truth for
    the forged bundles below, which a holder of the log key could still serve."""
    rogue = Signer.from_seed("sealchain.demo/org/rogue", b"\x32" * 32)
    stranger_key = {"org": "au-exporter", "vkey": rogue.vkey}
    receive = b.receive([carton], "au-meatworks", PORT_AU, b.now())
    entries = {
        "revoked-key-signs": sign_envelope(
            old_key, type=receive[0], org="au-exporter", body=receive[1]
        ),
        "non-admin-adds-a-key": sign_envelope(
            world.signers["au-meatworks"],
            type="ledger.key.add",
            org="au-meatworks",
            body=stranger_key,
        ),
        "unknown-org-writes": sign_envelope(rogue, type=receive[0], org="rogue", body=receive[1]),
        "deactivated-org-writes": sign_envelope(
            world.signers["retail-c"], type=receive[0], org="retail-c", body=receive[1]
        ),
        "key-revokes-itself": sign_envelope(
            world.signers["cac-registry"],
            type="ledger.key.revoke",
            org="cac-registry",
            body={"org": "cac-registry", "key": world.signers["cac-registry"].key_id_hex},
        ),
    }
    assert world.node.sequencer is not None
    outcomes = world.node.sequencer.submit([env.raw for env in entries.values()])
    refused = {}
    for (name, env), result in zip(entries.items(), outcomes, strict=True):
        assert isinstance(result, LedgerError), f"{name} was accepted"
        refused[name] = (env.raw, result.code)
    return refused


def reseal(
    stored: list[bytes], log: Signer, policy: dict[str, Any], cosigners: list[Signer] = ()
) -> dict[str, Any]:
    """A bundle of a tree holding exactly `stored`, its checkpoint signed by `log` (and
    cosigned): what whoever holds the log key could serve, whatever the pipeline refused."""
    nodes: dict[tuple[int, int], bytes] = {}
    tree = merkle.CompactRange()
    for data in stored:
        for level, i, value in tree.append(merkle.leaf_hash(data)):
            nodes[(level, i)] = value
    text = Checkpoint(log.name, tree.size, tree.root()).text()
    note = sign_note(text, [log])
    note = note.with_signatures([cosign(text, w, 1_764_318_600) for w in cosigners])
    proofs = merkle.inclusion_proofs(range(tree.size), tree.size, nodes)
    return {
        "checkpoint": str(note),
        "policy": policy,
        "entries": [
            {
                "index": i,
                "entry": base64.b64encode(data).decode(),
                "proof": [base64.b64encode(p).decode() for p in proof],
            }
            for i, (data, proof) in enumerate(zip(stored, proofs, strict=True))
        ],
    }


def python_proofs_hold(bundle: dict[str, Any], policy: LogPolicy) -> bool:
    """ledger.core's verdict on everything but governance: the checkpoint's log signature and
    quorum, and each entry canonical, an envelope, and in the tree."""
    try:
        note = parse_note(bundle["checkpoint"])
        checkpoint = parse_checkpoint(note.text)
        if not verified_signers(note, [v for v in policy.logs if v.name == checkpoint.origin]):
            return False
        names = {w.key_id: name for name, w in policy.witnesses.items()}
        cosigners = verified_signers(note, policy.witnesses.values())
        if not policy.quorum_met({names[w.key_id] for w in cosigners}):
            return False
        indexes = [item["index"] for item in bundle["entries"]]
        if indexes != sorted(set(indexes)):
            return False
        for item in bundle["entries"]:
            data = b64decode_strict(item["entry"])
            if envelope_from_dict(parse_strict(data)).raw != data:
                return False
            proof = [b64decode_strict(p) for p in item["proof"]]
            merkle.verify_inclusion(
                item["index"], checkpoint.size, merkle.leaf_hash(data), proof, checkpoint.root
            )
    except (LedgerError, binascii.Error):
        return False
    return True


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> BundleWorld:
    return bundle_world(tmp_path_factory.mktemp("bundles") / "home")


def expected_view(world: BundleWorld, bundle: dict[str, Any]) -> dict[str, Any]:
    """What verifyBundle must return, from ledger.core and the projection's members table."""
    checkpoint = parse_checkpoint(parse_note(bundle["checkpoint"]).text)
    entries = []
    for item in bundle["entries"]:
        envelope = envelope_from_dict(parse_strict(b64decode_strict(item["entry"])))
        body = canonical_bytes(envelope.body).decode()
        entries.append([item["index"], envelope.type, envelope.org, envelope.tx_id, body])
    return {
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "logId": world.policy.logs[0].key_id_hex,
        "cosigners": [],
        "entries": entries,
        "members": world.members,
    }


def test_page_bundles_verify_with_members_as_governance_defines_them(
    js: JSVerifier, bundles: BundleWorld
) -> None:
    assert bundles.members["retail-b"][0] == "Retailer B, Xuhui"
    assert bundles.members["retail-c"][2] is False
    assert "ledger.admin" in bundles.members["cac-registry"][1]
    resealed = reseal(bundles.stored, bundles.log_signer, bundles.full["policy"])
    cases = {"full": bundles.full, "page": bundles.page, "resealed-honestly": resealed}
    python = {case_id: ["ok", expected_view(bundles, bundle)] for case_id, bundle in cases.items()}
    page_entries = [e[0] for e in python["page"][1]["entries"]]
    assert set(bundles.page_indexes) < set(page_entries) < set(range(len(bundles.stored)))
    assert all(python_proofs_hold(bundle, bundles.policy) for bundle in cases.values())
    assert_agree(python, js.run(BUNDLE_JS, list(cases.items())), "page bundles")


def cosigned_bundle(world: BundleWorld, names: list[str]) -> tuple[dict[str, Any], LogPolicy]:
    """The full bundle under a 2-of-3 witness policy, its checkpoint cosigned by `names`."""
    witnesses = world.policy.witnesses
    group = Group("witnesses", 2, tuple(witnesses))
    made = LogPolicy(world.policy.logs, dict(witnesses), {"witnesses": group}, "witnesses")
    policy = parse_log_policy(made.to_text())
    note = parse_note(world.full["checkpoint"])
    lines = [cosign(note.text, world.witness_signers[name], 1_764_318_600) for name in names]
    bundle = {
        **world.full,
        "checkpoint": str(note.with_signatures(lines)),
        "policy": policy_json(policy),
    }
    return bundle, policy


def test_bundle_checkpoint_needs_the_witness_quorum(js: JSVerifier, bundles: BundleWorld) -> None:
    witnesses = sorted(bundles.witness_signers)
    (two, policy), (one, _) = (cosigned_bundle(bundles, w) for w in (witnesses[:2], witnesses[2:]))
    assert python_proofs_hold(two, policy) and not python_proofs_hold(one, policy)
    javascript = js.run(BUNDLE_JS, [["two", two], ["one", one]])
    assert javascript["two"][0] == "ok", javascript["two"]
    assert javascript["two"][1]["cosigners"] == witnesses[:2]
    assert javascript["one"][:2] == ["error", 1], javascript["one"]


def changed_bytes_cases(world: BundleWorld, count: int = 40) -> dict[str, dict[str, Any]]:
    """Copies of the page bundle with one entry byte, one proof bit or one checkpoint character
    changed, at seeded random places."""
    rnd = random.Random(1962)
    cases = {}
    for _ in range(count):
        bundle = json.loads(json.dumps(world.page))
        at = rnd.randrange(len(bundle["entries"]))
        item = bundle["entries"][at]
        data = bytearray(base64.b64decode(item["entry"]))
        pos, xor = rnd.randrange(len(data)), rnd.randint(1, 255)
        data[pos] ^= xor
        item["entry"] = base64.b64encode(bytes(data)).decode()
        cases[f"entry-{item['index']}-byte-{pos}-{xor}"] = bundle
    for n in range(count):
        bundle = json.loads(json.dumps(world.page))
        item = rnd.choice([i for i in bundle["entries"] if i["proof"]])
        at, bit = rnd.randrange(len(item["proof"])), rnd.randrange(256)
        item["proof"][at] = base64.b64encode(
            flip(base64.b64decode(item["proof"][at]), bit)
        ).decode()
        cases[f"entry-{item['index']}-proof-{at}-bit-{bit}/{n}"] = bundle
    for n in range(count):
        bundle = json.loads(json.dumps(world.page))
        bundle["checkpoint"] = mutate_text(rnd, bundle["checkpoint"])
        cases[f"checkpoint/{n}"] = bundle
    return cases


def test_bundle_with_any_byte_changed_is_refused(js: JSVerifier, bundles: BundleWorld) -> None:
    cases = changed_bytes_cases(bundles)
    assert not [case_id for case_id, b in cases.items() if python_proofs_hold(b, bundles.policy)]
    javascript = js.run(BUNDLE_JS, list(cases.items()))
    python = {case_id: "refused" for case_id in cases}
    found = {case_id: "refused" if r[0] == "error" else r for case_id, r in javascript.items()}
    assert_agree(python, found, "changed bundles")
    steps = {case_id: r[1] for case_id, r in javascript.items()}
    assert {s for c, s in steps.items() if c.startswith("checkpoint")} == {1}
    assert {s for c, s in steps.items() if c.startswith("entry")} == {2}


def forged_cases(world: BundleWorld) -> dict[str, tuple[dict[str, Any], int, list[str]]]:
    """Bundles that fail on governance or order, each with the step it must fail at and words
    its message must hold. Those built with `reseal` carry a valid log signature: only the
    verifier's own replay of governance can refuse them."""
    policy = world.full["policy"]
    log = world.log_signer
    other_log = Signer.from_seed(log.name, b"\x33" * 32)  # same origin, not the genesis log key
    n = len(world.stored)
    entries = world.full["entries"]
    refused = {name: raw for name, (raw, _) in world.refused.items()}
    genesis = world.stored[0]
    return {
        "genesis-dropped": ({**world.page, "entries": world.page["entries"][1:]}, 3, ["genesis"]),
        "index-twice": (
            {**world.full, "entries": [*entries[:4], entries[3], *entries[4:]]},
            2,
            [f"entry {entries[3]['index']}", "twice"],
        ),
        "out-of-order": (
            {**world.full, "entries": [entries[0], entries[2], entries[1], *entries[3:]]},
            2,
            ["sorted"],
        ),
        "key-add-dropped": (
            {**world.full, "entries": [e for e in entries if e["index"] != world.key_add_index]},
            4,
            [f"entry {world.key_add_index + 2}"],
        ),
        "log-key-swapped": ({**world.full, "policy": {**policy, "logs": [other_log.vkey]}}, 1, []),
        "log-key-swapped-and-checkpoint-resigned": (
            reseal(world.stored, other_log, {**policy, "logs": [other_log.vkey]}),
            3,
            ["not in the trust policy"],
        ),
        "other-log-key-signed-genesis-log-key-listed": (
            reseal(world.stored, other_log, {**policy, "logs": [other_log.vkey, log.vkey]}),
            3,
            ["not signed by the log key"],
        ),
        "revoked-key-signs-after-revocation": (
            reseal([*world.stored, refused["revoked-key-signs"]], log, policy),
            4,
            [f"entry {n}", f"revoked at entry {world.revoked_at}"],
        ),
        "non-admin-adds-a-key": (
            reseal([*world.stored, refused["non-admin-adds-a-key"]], log, policy),
            3,
            [f"entry {n}", "admin"],
        ),
        "unknown-org-writes": (
            reseal([*world.stored, refused["unknown-org-writes"]], log, policy),
            4,
            [f"entry {n}", "rogue"],
        ),
        "deactivated-org-writes": (
            reseal([*world.stored, refused["deactivated-org-writes"]], log, policy),
            4,
            [f"entry {n}", "retail-c", "not an active member"],
        ),
        "key-revokes-itself": (
            reseal([*world.stored, refused["key-revokes-itself"]], log, policy),
            3,
            [f"entry {n}", "the key it revokes"],
        ),
        "second-genesis": (reseal([*world.stored, genesis], log, policy), 3, [f"entry {n}"]),
        "genesis-not-first": (
            reseal([world.stored[1], genesis, *world.stored[2:]], log, policy),
            3,
            ["genesis"],
        ),
        "empty": ({**world.full, "entries": []}, 3, ["genesis"]),
    }


def test_bundle_forgeries_are_refused_at_their_step(js: JSVerifier, bundles: BundleWorld) -> None:
    """Dropped genesis, an entry twice, a swapped log key, and entries the pipeline refused
    (the ground truth below: its problem codes) put in a tree re-signed with the log key."""
    codes = {name: code for name, (_, code) in bundles.refused.items()}
    assert codes == {
        "revoked-key-signs": "revoked-key",
        "non-admin-adds-a-key": "forbidden-role",
        "unknown-org-writes": "unknown-org",
        "deactivated-org-writes": "unknown-org",
        "key-revokes-itself": "state-conflict",
    }
    cases = forged_cases(bundles)
    javascript = js.run(BUNDLE_JS, [[case_id, bundle] for case_id, (bundle, _, _) in cases.items()])
    python = {case_id: ["error", step] for case_id, (_, step, _) in cases.items()}
    assert_agree(python, {c: r[:2] for c, r in javascript.items()}, "forged bundles")
    for case_id, (_, _, words) in cases.items():
        message = javascript[case_id][2]
        assert all(word in message for word in words), f"{case_id}: {message!r} lacks {words}"


# --- messages ------------------------------------------------------------------------------------

MESSAGES_JS = """
const seen = {};
const sentence = "entry %(index)s: the signature does not verify";
seen.english = v.t(sentence, { index: 7 });
seen.unfilled = v.t(sentence);
seen.one = v.tn("%(n)s entry", "%(n)s entries", 1);
seen.many = v.tn("%(n)s entry", "%(n)s entries", 3);
document.documentElement.lang = "zh-CN";
v.setMessages({
  [sentence]: "\u6761\u76ee %(index)s \u7684\u7b7e\u540d\u65e0\u6548",
  "%(n)s entry": ["%(n)s \u4e2a\u6761\u76ee"],
  "the proof bundle is malformed": "\u8bc1\u660e\u5305\u683c\u5f0f\u9519\u8bef",
});
seen.chinese = v.t(sentence, { index: 7 });
seen.chinesePlural = v.tn("%(n)s entry", "%(n)s entries", 1);
seen.untranslated = v.tn("%(n)s witness", "%(n)s witnesses", 1);
seen.thrown = (await outcome(() => v.verifyBundle(null))).slice(0, 3);
document.documentElement.lang = "fr";
v.setMessages({ "%(n)s entry": ["%(n)s entr\u00e9e", "%(n)s entr\u00e9es"] });
seen.frenchZero = v.tn("%(n)s entry", "%(n)s entries", 0);
seen.frenchTwo = v.tn("%(n)s entry", "%(n)s entries", 2);
document.documentElement.lang = "ru";
const zapis = "\u0437\u0430\u043f\u0438\u0441";
const endings = ["\u044c", "\u0438", "\u0435\u0439"];
v.setMessages({ "%(n)s entry": endings.map((ending) => "%(n)s " + zapis + ending) });
seen.russian = [1, 3, 5, 21].map((n) => v.tn("%(n)s entry", "%(n)s entries", n));
document.documentElement.lang = "not a language tag!";
v.setMessages({ "%(n)s entry": ["%(n)s entr\u00e9e", "%(n)s entr\u00e9es"] });
seen.badLang = v.tn("%(n)s entry", "%(n)s entries", 0);
v.setMessages({});
document.documentElement.lang = "en";
const verdict = document.getElementById("verdict");
v.showVerdict(true, "Verified in your browser");
seen.verified = [verdict.textContent, verdict.className, verdict.dataset.verdict];
v.showVerdict(false, "<b>NOT</b> verified");
seen.failed = [verdict.textContent, verdict.className, verdict.dataset.verdict];
seen.failed.push(verdict.children.length);
return seen;
"""


def test_messages_are_translated_with_plural_forms_and_the_verdict_shown(js: JSVerifier) -> None:
    seen = js.run(MESSAGES_JS)
    assert seen["english"] == "entry 7: the signature does not verify"
    assert seen["unfilled"] == "entry %(index)s: the signature does not verify"
    assert (seen["one"], seen["many"]) == ("1 entry", "3 entries")
    assert seen["chinese"] == "\u6761\u76ee 7 \u7684\u7b7e\u540d\u65e0\u6548"
    assert seen["chinesePlural"] == "1 \u4e2a\u6761\u76ee"
    assert seen["untranslated"] == "1 witness"  # English text keeps English plural rules
    assert seen["thrown"] == ["error", 0, "\u8bc1\u660e\u5305\u683c\u5f0f\u9519\u8bef"]
    assert (seen["frenchZero"], seen["frenchTwo"]) == ("0 entr\u00e9e", "2 entr\u00e9es")
    zapis = "\u0437\u0430\u043f\u0438\u0441"
    assert seen["russian"] == [
        f"1 {zapis}\u044c",
        f"3 {zapis}\u0438",
        f"5 {zapis}\u0435\u0439",
        f"21 {zapis}\u044c",
    ]
    assert seen["badLang"] == "0 entr\u00e9es"  # an unreadable lang attribute: English rules
    assert seen["verified"] == ["Verified in your browser", "verdict verified", "verified"]
    assert seen["failed"] == ["<b>NOT</b> verified", "verdict failed", "failed", 0]


def test_every_message_is_a_whole_literal_sentence_babel_extracts() -> None:
    """Babel's JavaScript extractor (keywords t and tn:1,2) must find every message, in every
    module of the folder (the catalogs extract them all): a msgid built at run time would never
    reach the Chinese catalog."""
    scripts = sorted(STATIC.glob("*.js"))
    assert VERIFY_JS in scripts and len(scripts) > 10  # verify.js and the modules it imports
    messages: list[Any] = []
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.DOTALL)
        calls = re.findall(r"(?<!function )(?<![\w.$])(tn?)\(\s*(.)", code)
        assert [call for call in calls if call[1] != '"'] == [], script.name
        with script.open("rb") as file:
            found = list(extract("javascript", file, keywords={"t": None, "tn": (1, 2)}))
        assert len(found) == len(calls), script.name
        messages += [message for _, message, _, _ in found]
    assert len(messages) > 80
    for message in messages:
        forms = message if isinstance(message, tuple) else (message,)
        assert all(form and form == form.strip() for form in forms), message
        assert all("%" not in re.sub(r"%\([a-z_]+\)s", "", form) for form in forms), message
        names = {frozenset(re.findall(r"%\(([a-z_]+)\)s", form)) for form in forms}
        assert len(names) == 1, f"singular and plural differ in placeholders: {message}"
        if isinstance(message, tuple):
            assert "n" in next(iter(names)), message
