"""W3C vc-di-eddsa `eddsa-jcs-2022` vectors: an independent JCS + Ed25519 implementation agrees.

The cryptosuite signs proofHash || docHash, where each hash is SHA-256 of a JCS document, so our
`canonical_bytes` must match another implementation's byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.core.canonical import canonical_bytes, parse_strict
from ledger.core.keys import Signer, Verifier

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "eddsa-jcs-2022"
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ED25519_PUB_MULTICODEC = b"\xed\x01"
ED25519_PRIV_MULTICODEC = b"\x80\x26"


def _text(name: str) -> str:
    text = (VECTORS / name).read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text  # only a trailing newline, if any


def _json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _base58btc(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + BASE58_ALPHABET.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading_zeros + body


def _multibase(text: str) -> bytes:
    assert text.startswith("z"), "only base58btc multibase is used by the vectors"
    return _base58btc(text[1:])


def _public_key() -> bytes:
    decoded = _multibase(_json("keyPair.json")["publicKeyMultibase"])
    assert decoded[:2] == ED25519_PUB_MULTICODEC
    assert len(decoded) == 34
    return decoded[2:]


def _unsigned_credential() -> dict[str, Any]:
    signed = _json("signedJCS.json")
    return {k: v for k, v in signed.items() if k != "proof"}


def test_base58_decoder_handles_leading_zero_bytes() -> None:
    assert _base58btc("") == b""
    assert _base58btc("1") == b"\x00"
    assert _base58btc("11z") == b"\x00\x00\x39"
    assert _base58btc("5S") == b"\x01\x01"
    assert _base58btc("2NEpo7TZRRrLZSi2U") == b"Hello World!"  # draft-msporny-base58 example


def test_jcs_of_credential_matches_w3c_canonical_document() -> None:
    assert canonical_bytes(_unsigned_credential()) == _text("canonDocJCS.txt").encode()


def test_jcs_of_proof_config_matches_w3c_canonical_proof() -> None:
    assert canonical_bytes(_json("proofConfigJCS.json")) == _text("proofCanonJCS.txt").encode()


def test_signed_credential_proof_is_the_proof_config_plus_value() -> None:
    proof = dict(_json("signedJCS.json")["proof"])
    assert proof.pop("proofValue") == _text("sigBTC58JCS.txt")
    assert canonical_bytes(proof) == canonical_bytes(_json("proofConfigJCS.json"))


def test_strict_parser_accepts_and_canonicalises_the_w3c_documents() -> None:
    for name in ("signedJCS.json", "proofConfigJCS.json", "keyPair.json"):
        raw = (VECTORS / name).read_bytes()
        assert canonical_bytes(parse_strict(raw)) == canonical_bytes(json.loads(raw))
    canon = _text("canonDocJCS.txt").encode()
    assert canonical_bytes(parse_strict(canon)) == canon


def test_hashes_match_w3c_doc_and_proof_hashes() -> None:
    doc_hash = hashlib.sha256(canonical_bytes(_unsigned_credential())).digest()
    proof_hash = hashlib.sha256(canonical_bytes(_json("proofConfigJCS.json"))).digest()
    assert doc_hash.hex() == _text("docHashJCS.txt")
    assert proof_hash.hex() == _text("proofHashJCS.txt")
    # The cryptosuite signs proofHash || docHash, in that order.
    assert (proof_hash + doc_hash).hex() == _text("combinedHashJCS.txt")


def test_proof_value_is_base58_of_the_hex_signature() -> None:
    assert _multibase(_text("sigBTC58JCS.txt")).hex() == _text("sigHexJCS.txt")


def test_w3c_signature_verifies_over_combined_hash() -> None:
    combined = bytes.fromhex(_text("combinedHashJCS.txt"))
    signature = bytes.fromhex(_text("sigHexJCS.txt"))
    Ed25519PublicKey.from_public_bytes(_public_key()).verify(signature, combined)
    assert Verifier("did.example/key", _public_key()).verify(combined, signature)


def test_w3c_signature_does_not_verify_over_swapped_hash_order() -> None:
    combined = bytes.fromhex(_text("combinedHashJCS.txt"))
    signature = bytes.fromhex(_text("sigHexJCS.txt"))
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(_public_key()).verify(
            signature, combined[32:] + combined[:32]
        )
    assert not Verifier("did.example/key", _public_key()).verify(combined[:32], signature)


def test_our_signer_reproduces_the_w3c_signature_from_the_private_key() -> None:
    # Ed25519 is deterministic: the same seed and message give the same 64 bytes.
    decoded = _multibase(_json("keyPair.json")["privateKeyMultibase"])
    assert decoded[:2] == ED25519_PRIV_MULTICODEC
    signer = Signer.from_seed("did.example/key", decoded[2:])
    assert signer.verifier.public_key == _public_key()
    combined = bytes.fromhex(_text("combinedHashJCS.txt"))
    assert signer.sign(combined).hex() == _text("sigHexJCS.txt")
