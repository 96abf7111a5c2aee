"""W3C Verifiable Credentials 2.0 with `eddsa-jcs-2022` Data Integrity proofs, and `did:key`
identifiers for Ed25519 keys (the issuing body's ledger key).

The cryptosuite (W3C vc-di-eddsa 3.3): proofConfig = the proof without `proofValue`, with the
document's `@context`; signature = Ed25519 over SHA-256(JCS(proofConfig)) || SHA-256(JCS(doc
without proof)); `proofValue` = multibase base58btc of the signature. JCS is the ledger's one
canonical encoder, so a credential is signed over the same bytes anyone else's JCS would give
(tests run the W3C vectors).
"""

from __future__ import annotations

import hashlib
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.core.canonical import canonical_bytes
from ledger.core.keys import Signer
from ledger.plugin import VerificationError

ED25519_MULTICODEC = b"\xed\x01"
CRYPTOSUITE = "eddsa-jcs-2022"


class CredentialInvalid(VerificationError):
    code = "bad-credential"
    title = "Credential does not verify"


def did_key(public_key: bytes) -> str:
    """did:key of an Ed25519 public key: multibase base58btc of the multicodec key."""
    return "did:key:z" + base58.b58encode(ED25519_MULTICODEC + public_key).decode()


def public_key_of(did: str) -> bytes:
    """The Ed25519 key a did:key (or a did:key#fragment verification method) names."""
    method = did.split("#", 1)[0]
    if not method.startswith("did:key:z"):
        raise CredentialInvalid(f"{did!r} is not a did:key")
    try:
        raw = base58.b58decode(method[len("did:key:z") :])
    except ValueError as e:
        raise CredentialInvalid(f"{did!r} is not base58btc") from e
    if raw[:2] != ED25519_MULTICODEC or len(raw) != 34:
        raise CredentialInvalid(f"{did!r} is not an Ed25519 did:key")
    return raw[2:]


def verification_method(public_key: bytes) -> str:
    did = did_key(public_key)
    return f"{did}#{did[len('did:key:') :]}"


def _hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(canonical_bytes(proof_config)).digest()
        + hashlib.sha256(canonical_bytes(unsigned)).digest()
    )


def sign_credential(document: dict[str, Any], signer: Signer, created: str) -> dict[str, Any]:
    """`document` with an eddsa-jcs-2022 proof by `signer` (assertionMethod)."""
    config = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method(signer.verifier.public_key),
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    signature = signer.sign(_hash_data(document, config))
    proof = {**config, "proofValue": "z" + base58.b58encode(signature).decode()}
    return {**{k: v for k, v in document.items() if k != "proof"}, "proof": proof}


def verify_credential(document: dict[str, Any]) -> bytes:
    """Check the credential's eddsa-jcs-2022 proof; returns the signer's public key.
    Raises CredentialInvalid saying what failed."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise CredentialInvalid("the credential has no proof")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialInvalid(f"the proof is not a DataIntegrityProof with {CRYPTOSUITE}")
    if proof.get("proofPurpose") != "assertionMethod":
        raise CredentialInvalid("the proof's purpose is not assertionMethod")
    if proof.get("@context", document.get("@context")) != document.get("@context"):
        raise CredentialInvalid("the proof's @context differs from the credential's")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise CredentialInvalid("proofValue is not multibase base58btc")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError as e:
        raise CredentialInvalid("proofValue is not base58btc") from e
    public_key = public_key_of(str(proof.get("verificationMethod", "")))
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, _hash_data(document, config)
        )
    except InvalidSignature as e:
        raise CredentialInvalid("the credential's proof does not verify") from e
    return public_key
