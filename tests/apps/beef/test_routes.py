"""The beef routes in-process: photo uploads a probe used to crash or stall the server, the CSV
download's file name, and where buffered scan counts are written."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import anyio
import httpx
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from apps.beef import builders as b
from apps.beef.identifiers import pack_id, parse_pack_uri
from apps.beef.scans import SCAN_WARNING_THRESHOLD, WAITING_SLOTS, ScanCounter, source_of
from apps.beef.tables import scan_sources
from ledger.api import create_app
from ledger.config import Settings
from ledger.core.envelope import format_ts
from ledger.core.request_auth import sign_request
from ledger.storage.engine import read_transaction, write_transaction
from tests.apps.beef.hostile_images import ABSURD_SIDES, UNREADABLE, blank_49_megapixels, busy_png
from tests.support.beef import GTIN, MEATWORKS, STORE_A, BeefWorld, beef_world, lot_data

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
        assert scan.result().json()["detail"] == "No QR code was found in the image."


def _export(api: TestClient, world: BeefWorld) -> httpx.Response:
    """The lot's CSV export, asked for by a member (a signed request)."""
    path = "/v1/beef/export.csv"
    query = urlencode({"gtin": GTIN, "lot": world.lot})
    org = "au-meatworks"
    headers = sign_request(
        world.signers[org], org, "GET", path, query, b"", format_ts(datetime.now(UTC))
    )
    response = api.get(f"{path}?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_csv_file_name_cannot_inject_header_parameters(api: TestClient, world: BeefWorld) -> None:
    """GS1 lots may hold `"`, `;`, `%`, `<` and `>`: none of them reaches the header raw."""
    world.lot = 'x";y=<>%'
    world.commission(1)
    response = _export(api, world)
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
        scans = [(world.node.engine, "a"), (other.node.engine, "a"), (other.node.engine, "b")]
        for engine, source in scans:
            with read_transaction(engine) as conn:
                counter.record(engine, conn, pack, source, sold=False)
        counter.flush(world.node.engine)
        counter.flush(other.node.engine)
        counts = []
        for engine in (world.node.engine, other.node.engine):
            with read_transaction(engine) as conn:
                counts.append(sorted(conn.execute(select(scan_sources.c.source)).scalars()))
    finally:
        other.node.close()
    assert counts == [["a"], ["a", "b"]]


def _scan(app: TestClient, path: str, address: str) -> dict[str, object]:
    """A scan from a client at `address` (the ASGI client the server sees)."""
    with TestClient(app.app, client=(address, 50000)) as client:
        response = client.get(path, headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    scans: dict[str, object] = response.json()["scans"]
    return scans


def test_one_client_reloading_a_page_counts_once_and_raises_no_warning(
    api: TestClient, world: BeefWorld
) -> None:
    """A probe: twelve anonymous requests made a genuine pack say "the label may have been
    copied". Repeated scans from one network count once."""
    (pack,) = world.commission(1)
    path = parse_pack_uri(pack).path()
    for _ in range(12):
        scans = _scan(api, path, "198.51.100.7")
    assert scans["sources"] == 1
    assert scans["warning"] is None


def test_many_networks_scanning_one_code_warn_of_a_copied_label(
    api: TestClient, world: BeefWorld
) -> None:
    (pack,) = world.commission(1)
    path = parse_pack_uri(pack).path()
    for n in range(SCAN_WARNING_THRESHOLD):
        assert _scan(api, path, f"203.0.113.{n}")["warning"] is None
    scans = _scan(api, path, "192.0.2.1")
    assert scans["sources"] == SCAN_WARNING_THRESHOLD + 1
    assert "copied label" in str(scans["warning"])


def test_scans_after_a_sale_from_a_few_networks_are_the_buyers_own(
    api: TestClient, world: BeefWorld
) -> None:
    (pack,) = world.commission(1)
    world.ok("au-meatworks", b.ship([pack], "au-meatworks", "retail-a", MEATWORKS, b.now()))
    world.ok("retail-a", b.receive([pack], "au-meatworks", STORE_A, b.now()))
    world.ok("retail-a", b.sell([pack], STORE_A, b.now()))
    path = parse_pack_uri(pack).path()
    for address in ("198.51.100.1", "198.51.100.2"):  # at the till, then at home
        assert _scan(api, path, address)["warning"] is None
    scans = _scan(api, path, "203.0.113.9")  # a third network after the sale
    assert scans["after_sale"] == 3
    assert "was sold" in str(scans["warning"])


def _explicit_counter(world: BeefWorld) -> tuple[Engine, ScanCounter, str]:
    """The ledger's engine, a counter that flushes only when told, and one new pack."""
    (pack,) = world.commission(1)
    return world.node.engine, ScanCounter(flush_every=3600), pack


def test_a_source_stored_and_waiting_again_counts_once(world: BeefWorld) -> None:
    """A source already written and scanning again waits in memory a second time: the count
    adds it once, and its first scan after the sale once to the after-sale count."""
    engine, counter, pack = _explicit_counter(world)

    def scan(source: str, *, sold: bool) -> tuple[int, int]:
        with read_transaction(engine) as conn:
            count = counter.record(engine, conn, pack, source, sold=sold)
        return count.sources, count.after_sale

    assert scan("a", sold=False) == (1, 0)
    counter.flush(engine)
    assert scan("a", sold=False) == (1, 0)  # stored, and waiting again
    assert scan("b", sold=False) == (2, 0)
    assert scan("a", sold=True) == (2, 1)  # stored before the sale, scanned after it
    counter.flush(engine)
    assert scan("a", sold=True) == (2, 1)  # stored after the sale now
    assert scan("b", sold=True) == (2, 2)


@pytest.mark.parametrize("stored", [0, 3, WAITING_SLOTS, 2 * WAITING_SLOTS + 5])
@pytest.mark.parametrize("waiting", [1, WAITING_SLOTS, WAITING_SLOTS + 1, 3 * WAITING_SLOTS + 2])
def test_many_sources_waiting_and_stored_each_count_once(
    world: BeefWorld, stored: int, waiting: int
) -> None:
    """A code scanned from more networks within a second than the count's statement has
    slots for (a copied label at a market): the waiting sources are looked up a slot-full at
    a time, and each source counts once whether it is stored, waiting or both."""
    engine, counter, pack = _explicit_counter(world)
    first = [f"s{i}" for i in range(stored)]
    for source in first:
        with read_transaction(engine) as conn:
            counter.record(engine, conn, pack, source, sold=False)
    counter.flush(engine)
    # Half of them again, after the sale, and new ones: waiting - 1 before the last scan.
    again = first[: stored // 2] + [f"n{i}" for i in range(waiting - 1 - stored // 2)]
    for source in again:
        with read_transaction(engine) as conn:
            counter.record(engine, conn, pack, source, sold=True)
    with read_transaction(engine) as conn:
        count = counter.record(engine, conn, pack, "last", sold=True)
    sources = set(first) | set(again) | {"last"}
    assert count.sources == len(sources)
    assert count.after_sale == len(set(again) | {"last"})


def test_a_scan_whose_read_began_before_a_flush_still_counts_what_it_wrote(
    world: BeefWorld,
) -> None:
    """A flush takes the waiting scans and writes them from another thread: a scan whose read
    transaction began before that write committed (SQLite's snapshot) sees them neither
    waiting nor stored, unless the counter keeps them in view until the next flush."""
    engine, counter, pack = _explicit_counter(world)
    with read_transaction(engine) as conn:
        counter.record(engine, conn, pack, "a", sold=False)
    with read_transaction(engine) as conn:
        conn.execute(select(scan_sources.c.uri)).all()  # the snapshot starts here
        counter.flush(engine)  # "a" committed after it
        assert counter.record(engine, conn, pack, "b", sold=False).sources == 2
    counter.flush(engine)
    with read_transaction(engine) as conn:
        assert counter.record(engine, conn, pack, "c", sold=False).sources == 3


def test_one_client_walking_through_many_codes_is_limited() -> None:
    """Past its rate a source is not counted: it cannot raise every code it can guess."""
    counter = ScanCounter(flush_every=3600, rate_per_minute=3)
    assert [counter._rate.allow("x") for _ in range(4)] == [True, True, True, False]
    assert counter._rate.allow("y")


def test_sources_are_keyed_hashes_not_addresses() -> None:
    first = source_of(b"k" * 32, "198.51.100.7")
    assert first == source_of(b"k" * 32, "198.51.100.7")
    assert first != source_of(b"j" * 32, "198.51.100.7")
    assert "198" not in first and len(first) == 16


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
    with TestClient(api.app, client=("198.51.100.50", 1)) as preview:
        for _ in range(3):
            assert preview.head(path).status_code == 200
    assert _scan(api, path, "198.51.100.60")["sources"] == 1


def test_scan_counts_survive_a_failed_flush(world: BeefWorld) -> None:
    """A real write failure (the table is gone for a moment): the counts wait for the next
    flush instead of being dropped."""
    engine, counter, pack = _explicit_counter(world)
    with read_transaction(engine) as conn:
        counter.record(engine, conn, pack, "a", sold=False)
    with write_transaction(engine) as conn:
        scan_sources.drop(conn)
    with pytest.raises(SQLAlchemyError):
        counter.flush(engine)
    with write_transaction(engine) as conn:
        scan_sources.create(conn)
    with read_transaction(engine) as conn:
        counter.record(engine, conn, pack, "b", sold=True)
    counter.flush(engine)
    with read_transaction(engine) as conn:
        rows = conn.execute(select(scan_sources.c.source, scan_sources.c.after_sale)).all()
    assert sorted(map(tuple, rows)) == [("a", False), ("b", True)]


def test_csv_cells_that_start_a_formula_are_written_as_text(
    api: TestClient, world: BeefWorld
) -> None:
    """A place or note starting with = + - @ would run as a formula in a spreadsheet."""
    (pack,) = world.commission(1)
    evil = b.place("evil", '=HYPERLINK("http://x.example","click")', "@SUM(1)", "AU")
    world.ok("au-meatworks", b.aggregate(world.carton(1), [pack], evil, b.now()))
    rows = list(csv.DictReader(io.StringIO(_export(api, world).text)))
    assert rows[1]["place"] == '\'=HYPERLINK("http://x.example","click")'
    assert rows[1]["city"] == "'@SUM(1)"
    assert rows[0]["objects"] == "1" and rows[0]["ledger_index"] == "1"


def test_label_sheet_escapes_product_text(api: TestClient, world: BeefWorld) -> None:
    world.lot = "XSS1"
    data = lot_data("XSS1") | {"productName": "<script>alert(1)</script>"}
    pack = pack_id(GTIN, "XSS1", "0001").uri()
    world.ok("au-meatworks", b.commission([pack], data, MEATWORKS, b.now()))
    html = api.get(f"/v1/beef/labels?gtin={GTIN}&lot=XSS1").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
