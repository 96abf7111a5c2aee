"""eddsa-jcs-2022 credentials: the W3C vectors verify with our verifier, any single changed
field fails, did:key round-trips, and status lists decode to the bits they were made of."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.certs import statuslist
from apps.certs.credentials import (
    CredentialInvalid,
    did_key,
    public_key_of,
    sign_credential,
    verify_credential,
)
from ledger.core.keys import Signer

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "eddsa-jcs-2022"


def _signed() -> dict[str, Any]:
    return json.loads((VECTORS / "signedJCS.json").read_text())


def test_the_w3c_signed_credential_verifies_with_its_did_key() -> None:
    key = verify_credential(_signed())
    pair = json.loads((VECTORS / "keyPair.json").read_text())
    assert did_key(key) == "did:key:" + pair["publicKeyMultibase"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))]
    return [prefix]


@pytest.mark.parametrize("path", _paths(_signed()), ids=lambda p: ".".join(map(str, p)))
def test_any_single_changed_field_fails(path: tuple[Any, ...]) -> None:
    changed = copy.deepcopy(_signed())
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    value = holder[path[-1]]
    holder[path[-1]] = value + "x" if isinstance(value, str) else not value
    with pytest.raises(CredentialInvalid):
        verify_credential(changed)


def test_our_signature_verifies_and_a_copy_by_another_key_does_not() -> None:
    signer = Signer.generate("sealchain.test/org/nfcc")
    document = {k: v for k, v in _signed().items() if k != "proof"}
    signed = sign_credential(document, signer, "2026-12-03T00:00:00Z")
    assert verify_credential(signed) == signer.verifier.public_key
    other = Signer.generate("sealchain.test/org/bctc")
    forged = copy.deepcopy(signed)
    forged["proof"]["verificationMethod"] = sign_credential(document, other, "x")["proof"][
        "verificationMethod"
    ]
    with pytest.raises(CredentialInvalid, match="does not verify"):
        verify_credential(forged)
    assert public_key_of(did_key(signer.verifier.public_key)) == signer.verifier.public_key


@given(st.sets(st.integers(0, statuslist.MIN_BITS - 1), max_size=50))
def test_a_status_list_decodes_to_the_bits_it_was_made_of(bits: set[int]) -> None:
    decoded = statuslist.decode(statuslist.encode(bits))
    assert len(decoded) * 8 == statuslist.MIN_BITS
    for index in [*bits, 0, 1, statuslist.MIN_BITS - 1]:
        assert statuslist.bit(decoded, index) == (index in bits)
