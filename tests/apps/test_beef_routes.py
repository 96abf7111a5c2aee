"""The beef routes in-process: photo uploads a probe used to crash or stall the server, the CSV
download's file name, and where buffered scan counts are written."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import anyio
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from apps.beef.identifiers import parse_pack_uri
from apps.beef.tables import scans
from apps.beef.views import ScanCounter
from ledger.api import create_app
from ledger.config import Settings
from ledger.core.envelope import format_ts
from ledger.core.request_auth import sign_request
from ledger.storage.engine import read_transaction, write_transaction
from tests.apps.hostile_images import ABSURD_SIDES, UNREADABLE, blank_49_megapixels, busy_png
from tests.support.beef import GTIN, BeefWorld, beef_world

HOSTILE: dict[str, Callable[[], bytes]] = {
    **UNREADABLE,
    **ABSURD_SIDES,
    "blank 7000 x 7000": blank_49_megapixels,
}


@pytest.fixture
def api(world: BeefWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.node.settings, node=world.node)) as client:
        yield client


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_photo_is_an_invalid_body_problem_not_a_500(api: TestClient, name: str) -> None:
    response = api.post(
        "/v1/beef/scan", files={"photo": ("label.png", HOSTILE[name](), "image/png")}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid-body"
    assert any(
        words in problem["detail"]
        for words in (
            "not a JPEG, PNG, WebP or GIF image",
            "pixels wide or high",
            "over 24 megapixels",
        )
    ), problem["detail"]


def test_health_is_answered_while_a_photo_is_decoded(api: TestClient) -> None:
    """Decoding a photo takes seconds of CPU; the worker's other requests must not wait for it.

    The decoder slot the route takes is held exactly while the photo is decoded in a thread, so
    /healthz is asked while it is held and must be answered while it is still held: no clock.
    """
    photo = busy_png(6000, 4000)  # 24 MP without a code: every pass searches all of it
    decoders = api.app.state.beef_photo_decoders = anyio.CapacityLimiter(2)
    with ThreadPoolExecutor(1) as pool:
        scan = pool.submit(
            api.post, "/v1/beef/scan", files={"photo": ("busy.png", photo, "image/png")}
        )
        while decoders.borrowed_tokens == 0:
            assert not scan.done(), "the photo was decoded without a decoder thread"
            time.sleep(0.005)  # polling for the decode to start; nothing is timed
        health = api.get("/healthz")
        assert health.status_code == 200
        assert decoders.borrowed_tokens == 1, "answered only after the decode ended"
        assert not scan.done()
        assert scan.result().status_code == 422
        assert scan.result().json()["detail"] == "no QR code was found in the image"


def test_csv_file_name_cannot_inject_header_parameters(api: TestClient, world: BeefWorld) -> None:
    """GS1 lots may hold `"`, `;`, `%`, `<` and `>`: none of them reaches the header raw."""
    world.lot = 'x";y=<>%'
    world.commission(1)
    path = "/v1/beef/export.csv"
    query = urlencode({"gtin": GTIN, "lot": world.lot})
    org = "au-meatworks"
    headers = sign_request(
        world.signers[org], org, "GET", path, query, b"", format_ts(datetime.now(UTC))
    )
    response = api.get(f"{path}?{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        f'attachment; filename="beef-{GTIN}-x__y____.csv"; '
        f"filename*=UTF-8''beef-{GTIN}-x%22%3By%3D%3C%3E%25.csv"
    )
    assert response.text.splitlines()[1].split(",")[1] == "commissioning"


def test_scan_counts_of_two_ledgers_in_one_process_stay_apart(
    world: BeefWorld, tmp_path: Path
) -> None:
    """Counts wait in memory per engine: a flush of one ledger never writes another's."""
    other = beef_world(tmp_path / "other")
    counter = ScanCounter(flush_every=3600)  # only explicit flushes
    try:
        (pack,) = world.commission(1)
        for engine in (world.node.engine, other.node.engine, other.node.engine):
            with read_transaction(engine) as conn:
                counter.record(engine, conn, pack, sold=False)
        counter.flush(world.node.engine)
        counter.flush(other.node.engine)
        counts = []
        for engine in (world.node.engine, other.node.engine):
            with read_transaction(engine) as conn:
                counts.append(conn.execute(select(scans.c.count)).scalars().all())
    finally:
        other.node.close()
    assert counts == [[1], [2]]


def _printed_link(client: TestClient, lot: str, host: str) -> str:
    response = client.get(f"/v1/beef/qr/{GTIN}/{lot}/0001.png", headers={"host": host})
    assert response.status_code == 200, response.text
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    return found.text


def test_printed_links_use_the_public_url_not_the_callers_host(world: BeefWorld) -> None:
    (pack,) = world.commission(1)
    path = parse_pack_uri(pack).path()
    with TestClient(create_app(world.node.settings, node=world.node)) as client:
        # No public URL configured: the request's own base, whatever Host it claims.
        assert _printed_link(client, world.lot, "evil.example") == "http://evil.example" + path
    public = world.node.settings.model_copy(update={"public_url": "https://trace.example.cn/"})
    world.node.settings = public
    with TestClient(create_app(public, node=world.node)) as client:
        assert _printed_link(client, world.lot, "evil.example") == "https://trace.example.cn" + path
        sheet = client.get(f"/v1/beef/labels?gtin={GTIN}&lot={world.lot}").text
        assert "evil.example" not in sheet and "testserver" not in sheet


def test_public_url_must_be_a_bare_http_base() -> None:
    for bad in (
        "trace.example.cn",
        "ftp://x",
        "https://x/?a=1",
        "https://x y",
        "https://user:pw@evil.example",
        "https://evil.example\\@good.example",
        'https://a"><script>',
        "https://:99999",
        "https://x:99999",
        "https://x/#top",
    ):
        with pytest.raises(ValidationError):
            Settings(public_url=bad)
    for good in ("https://trace.example.cn/beef", "HTTPS://Trace.example.cn", "http://x:8000"):
        assert Settings(public_url=good).public_url == good


def test_head_on_a_scan_page_is_not_a_scan(api: TestClient, world: BeefWorld) -> None:
    (pack,) = world.commission(1)
    path = parse_pack_uri(pack).path()
    as_json = {"accept": "application/json"}
    first = api.get(path, headers=as_json).json()["scans"]["count"]
    for _ in range(3):
        assert api.head(path).status_code == 200
    assert api.get(path, headers=as_json).json()["scans"]["count"] == first + 1


def test_scan_counts_survive_a_failed_flush(world: BeefWorld) -> None:
    """A real write failure (the table is gone for a moment): the counts wait for the next
    flush instead of being dropped."""
    engine = world.node.engine
    counter = ScanCounter(flush_every=3600)  # only explicit flushes
    (pack,) = world.commission(1)
    with read_transaction(engine) as conn:
        counter.record(engine, conn, pack, sold=False)
    with write_transaction(engine) as conn:
        scans.drop(conn)
    with pytest.raises(SQLAlchemyError):
        counter.flush(engine)
    with write_transaction(engine) as conn:
        scans.create(conn)
    with read_transaction(engine) as conn:
        counter.record(engine, conn, pack, sold=True)
    counter.flush(engine)
    with read_transaction(engine) as conn:
        row = conn.execute(select(scans.c.count, scans.c.after_sale)).one()
    assert tuple(row) == (2, 1)
