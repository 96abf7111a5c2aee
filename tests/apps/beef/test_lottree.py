"""A lot's pack tree: the path a scan ships for a pack verifies against the root the lot's
commitment signs, for every pack of lots of every size."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.beef import lottree
from ledger.core import merkle


def _uris(n: int) -> list[str]:
    return [f"https://id.gs1.org/01/09312345000012/10/L1/21/{i:05d}" for i in range(n)]


@settings(max_examples=60)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_packs_path_verifies_against_the_lots_root(n: int, data: st.DataObject) -> None:
    uris = _uris(n)
    blob = lottree.levels(lottree.leaves(uris))
    root = base64.b64decode(lottree.root_b64(uris))
    uri = data.draw(st.sampled_from(uris))
    at = lottree.position(blob, n, uri)
    assert at is not None
    path = lottree.path(blob, n, at)
    assert merkle.verify_inclusion(at, n, merkle.leaf_hash(uri.encode()), path, root) is None
    assert path == merkle.inclusion_proof(at, n, lambda lv, i: lottree.node(blob, n, lv, i))


def test_a_path_from_a_cut_blob_is_refused() -> None:
    uris = _uris(37)
    blob = lottree.levels(lottree.leaves(uris))
    with pytest.raises(KeyError):
        lottree.path(blob[: -merkle.HASH_LEN], 37, 36)
    assert lottree.position(blob, 37, "https://id.gs1.org/01/09312345000012/10/L1/21/x") is None
