"""The explorer's public listing GET /v1/explorer/blocks, in-process on SQLite and PostgreSQL:
block headers newest first, paged, each checkpoint's cosigners named by the trust policy and
final only at its quorum, no entries and no tx_ids; bad input is a 400 problem."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.api import create_app
from ledger.core.note import parse_note
from ledger.storage.tables import cosignatures
from tests.support.explorer import ExplorerLedger, explorer_ledger, flip_base64_char
from tests.support.ledgers import LedgerFixture

PROBLEM = "application/problem+json"
BLOCKS = 24  # after genesis: 25 blocks


@pytest.fixture
def world(tmp_path: Path, db_url: str | None) -> Iterator[ExplorerLedger]:
    built = explorer_ledger(tmp_path / "home", db_url)
    built.add_blocks(BLOCKS)
    yield built
    built.close()


@pytest.fixture
def api(world: ExplorerLedger) -> Iterator[TestClient]:
    app = create_app(world.node.settings, node=world.node)
    with TestClient(app) as client:
        yield client


def listing(api: TestClient, query: str = "") -> dict:
    response = api.get("/v1/explorer/blocks" + query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def checkpoint_of(page: dict, size: int) -> dict:
    return next(i["checkpoint"] for i in page["items"] if i["header"]["size"] == size)


def test_blocks_come_newest_first_as_chained_headers(
    api: TestClient, world: ExplorerLedger
) -> None:
    page = listing(api, "?limit=10")
    heights = [item["header"]["height"] for item in page["items"]]
    assert heights == list(range(BLOCKS, BLOCKS - 10, -1))
    assert page["head"] == BLOCKS
    for newer, older in itertools.pairwise(page["items"]):
        assert newer["header"]["prev"] == older["hash"]
    for item in page["items"]:
        assert set(item["header"]) == {"height", "prev", "time", "first", "count", "size", "root"}
        checkpoint = item["checkpoint"]
        assert checkpoint["size"] == item["header"]["size"] == world.sizes[item["header"]["height"]]
        root = parse_note(checkpoint["note"]).text.splitlines()[2]
        assert root == item["header"]["root"]


def test_the_listing_shows_no_entry_and_no_tx_id(api: TestClient, world: ExplorerLedger) -> None:
    # Which entries a block holds is for members (DESIGN 8): a tx_id opens a receipt.
    text = api.get("/v1/explorer/blocks?limit=100").text
    assert "tx_id" not in text
    assert not any(tx_id in text for tx_id in world.tx_ids)
    assert "note 3" not in text


def test_paging_walks_every_block_once(api: TestClient) -> None:
    seen: list[int] = []
    query = "?limit=7"
    while True:
        page = listing(api, query)
        seen += [item["header"]["height"] for item in page["items"]]
        if page["next_before"] is None:
            break
        query = f"?limit=7&before={page['next_before']}"
    assert seen == list(range(BLOCKS, -1, -1))


def test_before_lists_the_blocks_below_a_height(api: TestClient) -> None:
    assert [i["header"]["height"] for i in listing(api, "?before=3")["items"]] == [2, 1, 0]
    assert listing(api, "?before=3")["next_before"] is None
    assert listing(api, "?before=0")["items"] == []
    far = listing(api, "?before=9007199254740992&limit=1")
    assert [i["header"]["height"] for i in far["items"]] == [BLOCKS]


def test_cosigners_are_named_by_the_policy_and_the_quorum_makes_final(
    api: TestClient, world: ExplorerLedger
) -> None:
    two, one = world.sizes[5], world.sizes[6]
    world.cosign(two, "gacc-shanghai", "pboc")
    world.cosign(one, "bj-internet-court")
    page = listing(api, "?limit=100")
    assert page["quorum"] == "witnesses"
    final = checkpoint_of(page, two)
    assert final["cosigners"] == ["gacc-shanghai", "pboc"] and final["final"] is True
    assert {c["witness"] for c in final["cosignatures"]} == {"gacc-shanghai", "pboc"}
    assert all(c["verified"] and c["time"] == 1_800_000_000 + two for c in final["cosignatures"])
    assert [c["key_name"] for c in final["cosignatures"]] == [
        "sealchain.demo/witness/gacc-shanghai",
        "sealchain.demo/witness/pboc",
    ]
    for c in final["cosignatures"]:
        assert c["line"] in final["note"]
    pending = checkpoint_of(page, one)
    assert pending["cosigners"] == ["bj-internet-court"] and pending["final"] is False
    bare = checkpoint_of(page, world.sizes[7])
    assert bare["cosigners"] == [] and bare["cosignatures"] == [] and bare["final"] is False


def test_a_cosignature_that_does_not_verify_is_not_counted(
    api: TestClient, world: ExplorerLedger
) -> None:
    size = world.sizes[4]
    world.cosign(size, "gacc-shanghai")  # a real one
    good = checkpoint_of(listing(api, "?limit=100"), size)["cosignatures"][0]["line"]
    other = world.sizes[3]
    # pboc's line made for another checkpoint, and a stranger's valid cosignature
    world.cosign(other, "pboc")
    borrowed = checkpoint_of(listing(api, "?limit=100"), other)["cosignatures"][0]["line"]
    with world.engine.begin() as conn:
        conn.execute(cosignatures.insert().values(size=size, witness="pboc", line=borrowed))
    world.cosign_as_stranger(size)
    checkpoint = checkpoint_of(listing(api, "?limit=100"), size)
    by_key = {c["key_name"]: c for c in checkpoint["cosignatures"]}
    assert by_key["sealchain.demo/witness/gacc-shanghai"]["line"] == good
    assert by_key["sealchain.demo/witness/gacc-shanghai"]["verified"] is True
    assert by_key["sealchain.demo/witness/pboc"]["witness"] == "pboc"
    assert by_key["sealchain.demo/witness/pboc"]["verified"] is False
    assert by_key["sealchain.demo/witness/stranger"]["witness"] is None
    assert checkpoint["cosigners"] == ["gacc-shanghai"]
    assert checkpoint["final"] is False  # three lines, one witness that counts


def test_a_tampered_cosignature_line_is_not_counted(api: TestClient, world: ExplorerLedger) -> None:
    size = world.sizes[2]
    world.cosign(size, "gacc-shanghai", "pboc")
    real = checkpoint_of(listing(api, "?limit=100"), size)["cosignatures"][1]["line"]
    with world.engine.begin() as conn:
        conn.execute(
            cosignatures.update()
            .where(cosignatures.c.size == size, cosignatures.c.witness == "pboc")
            .values(line=flip_base64_char(real, len(real) - 10))
        )
    checkpoint = checkpoint_of(listing(api, "?limit=100"), size)
    assert checkpoint["cosigners"] == ["gacc-shanghai"] and checkpoint["final"] is False


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?limit=",
        "?before=-1",
        "?before=abc",
        "?before=1.5",
        "?before=9007199254740993",
        "?limit=5&before=%00",
    ],
)
def test_bad_input_is_a_400_problem(api: TestClient, query: str) -> None:
    response = api.get("/v1/explorer/blocks" + query)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "invalid-request"
    assert body["type"] == "https://sealchain.dev/problems/invalid-request"
    assert body["detail"] and "Traceback" not in response.text


def test_the_listing_is_documented_in_openapi(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    operation = paths["/v1/explorer/blocks"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"before", "limit"}
    assert "400" in operation["responses"]
    assert "/explorer" not in paths  # the page is not an API operation


def test_quorum_none_makes_every_checkpoint_final(ledger: LedgerFixture) -> None:
    ledger.fill(6, 2)
    app = create_app(ledger.settings, node=ledger.node)
    with TestClient(app) as client:
        page = client.get("/v1/explorer/blocks").json()
    assert page["quorum"] == "none"
    assert all(item["checkpoint"]["final"] for item in page["items"])
