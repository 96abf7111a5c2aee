"""The log served as C2SP tlog-tiles, on SQLite and PostgreSQL: a client holding only the
checkpoint rebuilds inclusion and consistency proofs from tiles and they verify; bundles hash
to their level-0 tiles; tiles are immutable (long cache, ETag, 304) and nothing beyond the
signed checkpoint is served; malformed paths are 400 problems, absent tiles 404."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ledger.api import create_app
from ledger.core import merkle, tiles
from ledger.core.note import parse_checkpoint, parse_note
from tests.support.ledgers import LedgerFixture

PROBLEM = "application/problem+json"


@pytest.fixture
def api(ledger: LedgerFixture) -> Iterator[TestClient]:
    ledger.fill(700, per_block=100)
    with TestClient(create_app(ledger.settings, node=ledger.node)) as client:
        yield client


def _fetch(api: TestClient):
    def fetch(level: int, n: int, width: int) -> bytes:
        answer = api.get("/" + tiles.tile_path(level, n, width))
        assert answer.status_code == 200, answer.text
        return answer.content

    return fetch


def test_proofs_rebuilt_from_tiles_verify_against_the_checkpoint(api: TestClient) -> None:
    answer = api.get("/checkpoint")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    checkpoint = parse_checkpoint(parse_note(answer.text).text)
    size = checkpoint.size
    assert size > 700
    source = tiles.TileNodes(size, _fetch(api))
    for index in (0, 255, 256, 511, 600, size - 1):
        n, width = index // 256, tiles.width_at(0, index // 256, size)
        bundle = tiles.parse_entry_bundle(
            api.get("/" + tiles.tile_path("entries", n, width)).content
        )
        tiles.check_bundle(bundle, _fetch(api)(0, n, width))
        leaf = merkle.leaf_hash(bundle[index % 256])
        proof = merkle.inclusion_proof(index, size, source)
        merkle.verify_inclusion(index, size, leaf, proof, checkpoint.root)
        served = api.get("/v1/proofs/inclusion", params={"index": index, "size": size}).json()
        assert [base64.b64decode(h) for h in served["proof"]] == proof
    older = 300
    old_root = merkle.root_from_nodes(older, tiles.TileNodes(older, _fetch(api)))
    proof = merkle.consistency_proof(older, size, source)
    merkle.verify_consistency(older, size, proof, old_root, checkpoint.root)


def test_tiles_are_immutable_and_cacheable(api: TestClient) -> None:
    first = api.get("/tile/0/000")
    assert first.status_code == 200 and len(first.content) == 256 * 32
    assert first.headers["content-type"] == "application/octet-stream"
    assert "immutable" in first.headers["cache-control"]
    again = api.get("/tile/0/000", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert "max-age=2" in api.get("/checkpoint").headers["cache-control"]


def test_nothing_beyond_the_signed_checkpoint_is_served(api: TestClient) -> None:
    size = parse_checkpoint(parse_note(api.get("/checkpoint").text).text).size
    last, width = size // 256, size % 256
    assert api.get(f"/tile/0/{tiles.encode_index(last)}.p/{width}").status_code == 200
    for path in (
        f"/tile/0/{tiles.encode_index(last)}.p/{width + 1}",
        f"/tile/0/{tiles.encode_index(last)}",
        f"/tile/entries/{tiles.encode_index(last + 1)}.p/1",
        "/tile/1/000",  # 256 level-1 hashes would need 65,536 entries
        "/tile/2/000.p/1",
    ):
        answer = api.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith(PROBLEM)
    assert api.get("/tile/1/000.p/" + str(size // 256)).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/tile/01/000", "/tile/0/0001", "/tile/0/000.p/0", "/tile/0/000.p/256", "/tile/0/x000/001",
     "/tile/0/abc", "/tile/64/000", "/tile/-1/000", "/tile/entries/000.p/x"],
)  # fmt: skip
def test_a_malformed_tile_path_is_a_400_problem(api: TestClient, path: str) -> None:
    answer = api.get(path)
    assert 400 <= answer.status_code < 500 and answer.status_code != 404, path
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["code"] in ("invalid-request",)


def test_a_served_tile_is_answered_again_from_memory(
    api: TestClient, ledger: LedgerFixture
) -> None:
    from sqlalchemy import delete

    from ledger.storage.engine import write_transaction
    from ledger.storage.tables import nodes

    path = "/" + tiles.tile_path(0, 0)
    first = api.get(path)
    assert first.status_code == 200
    with write_transaction(ledger.node.engine) as conn:
        conn.execute(delete(nodes))  # the database can no longer build any tile
    again = api.get(path)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    with pytest.raises(KeyError):  # a tile not served before must come from the database
        api.get("/" + tiles.tile_path(0, 1))


def test_the_tile_cache_keeps_to_its_byte_limit_least_recent_out() -> None:
    from ledger.api.routes.tiles import TileCache

    cache = TileCache(limit=100)
    cache.put("a", b"x" * 40)
    cache.put("b", b"y" * 40)
    assert cache.get("a") is not None  # now "b" is the least recently used
    cache.put("c", b"z" * 40)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    assert cache.size == 80
    cache.put("huge", b"h" * 101)  # larger than the whole cache: served, not kept
    assert cache.get("huge") is None and cache.size == 80
