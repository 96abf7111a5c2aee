"""The beef scenario against a real server: every QR code it prints decodes to a Digital Link
that resolves to its scan page; scan CLI, photo upload, labels, trace and CSV work on it."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import biip
import httpx
import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from apps.beef import scenario
from apps.beef.identifiers import parse_pack_uri
from apps.beef.journey import NotAboutThePack, Party, derive
from apps.beef.qr import qr_png
from ledger.cli import app
from ledger.config import Settings
from ledger.core.envelope import format_ts
from ledger.core.request_auth import sign_request
from ledger.home import Home
from ledger.service.bundles import verify_page_bundle
from ledger.service.consortium import demo_plan
from ledger.service.node import init_home
from tests.support.server import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path, dict]]:
    root = tmp_path_factory.mktemp("beef-scenario")
    home = root / "home"
    node, _ = init_home(Settings(home=home, database_url=None), demo_plan())
    node.close()
    with running_server(home) as url:
        summary = scenario.run(url=url, home=home, out=root / "out")
        yield url, home, root / "out", summary


def test_every_printed_qr_code_resolves_to_its_scan_page(told) -> None:
    url, _, out, summary = told
    pngs = sorted((out / "qr").glob("*.png"))
    assert len(pngs) == 120
    statuses = set()
    with httpx.Client(base_url=url, headers={"accept": "application/json"}) as web:
        for png in pngs:
            (result,) = zxingcpp.read_barcodes(Image.open(png))
            parsed = biip.parse(result.text)
            assert parsed.gtin is not None, result.text
            assert parsed.gtin.value == summary["gtin"]
            pack = parse_pack_uri(result.text)
            assert result.text.startswith(url)
            response = web.get(pack.path())
            assert response.status_code == 200, result.text
            assert response.json()["pack"]["serial"] == png.stem
            statuses.add(response.json()["status"])
    assert statuses == {"recalled"}  # the lot was recalled at the end, wherever each pack is


def test_scenario_states_and_summary(told) -> None:
    _url, _, out, summary = told
    assert json.loads((out / "summary.json").read_text())["lot"] == summary["lot"]
    with httpx.Client(headers={"accept": "application/json"}) as web:
        unknown = web.get(summary["urls"]["code never registered"])
        assert unknown.status_code == 404
        assert unknown.json()["status"] == "unknown"
        clone = web.get(summary["urls"]["sold pack (cloned label)"]).json()
        assert "copied" in clone["scans"]["warning"]
        held = web.get(summary["urls"]["pack held by customs"]).json()
        steps = [s["step"] for s in held["journey"]]
        assert any("non-conformant, hold" in s for s in steps)
        assert any(t["status"] == "alarm" for t in held["temperatures"])
        assert held["certificates"][0]["kind"] == "export-health"
    sheet = (out / "labels.html").read_text()
    assert sheet.count("<svg") == 120


def test_scan_cli_reads_a_label_photo(told, tmp_path: Path) -> None:
    url, home, out, _ = told
    result = CliRunner().invoke(
        app, ["scan", str(out / "qr" / "0007.png"), "--url", url, "--home", str(home)]
    )
    assert result.exit_code == 0, result.output
    assert "Recalled" in result.output  # the banner: the lot was recalled at the end
    assert "verified: 16 steps from 16 signed entries" in result.output
    other = tmp_path / "other-home"  # a policy that does not trust this log
    CliRunner().invoke(app, ["init", "--home", str(other)])
    refused = CliRunner().invoke(
        app, ["scan", str(out / "qr" / "0007.png"), "--url", url, "--home", str(other)]
    )
    assert refused.exit_code == 1, refused.output
    assert "NOT VERIFIED" in refused.output


def test_scan_cli_exits_2_when_the_url_is_not_a_ledger_and_1_for_an_unknown_code(
    told, tmp_path: Path
) -> None:
    """Exit 1 only when something was checked and failed (docs/cli.md): a wrong --url is a
    set-up error, an unknown code is a verdict."""
    url, home, out, summary = told
    photo = str(out / "qr" / "0007.png")
    for wrong in (url + "/docs", url + "/v1/checkpoint", "http://127.0.0.1:9"):
        done = CliRunner().invoke(app, ["scan", photo, "--url", wrong, "--home", str(home)])
        assert done.exit_code == 2, (wrong, done.output)
        assert "cannot check" in done.output
    unknown = tmp_path / "unknown.png"
    unknown.write_bytes(qr_png(summary["urls"]["code never registered"]))
    done = CliRunner().invoke(app, ["scan", str(unknown), "--url", url, "--home", str(home)])
    assert done.exit_code == 1, done.output
    assert "UNKNOWN CODE" in done.output


def test_scan_check_binds_the_signed_journey_to_the_scanned_pack(told) -> None:
    """A lying server that answers one code with another pack's genuine, signed journey (or
    with no signed entries at all) is refused, though every signature it sends verifies; and
    what is shown comes from the signed entries, whatever else the server's answer says."""
    url, home, _, summary = told
    trust = Home(home).trust_policy()
    sold = parse_pack_uri(summary["urls"]["sold pack (cloned label)"])
    held = parse_pack_uri(summary["urls"]["pack held by customs"])
    view = httpx.get(url + held.path(), headers={"accept": "application/json"}).json()
    verified = verify_page_bundle(view["verification"], trust)
    parties = {o: Party(m.name, frozenset(m.roles)) for o, m in verified.parties.items()}
    proof = view["pack"]["lotProof"]
    journey = derive(verified.entries, held, parties, lot_proof=proof)  # its own pack: genuine
    assert journey.status == "recalled"
    assert any("non-conformant, held" in step.text for step in journey.steps)
    with pytest.raises(NotAboutThePack, match="is not about this pack"):
        derive(verified.entries, sold, parties, lot_proof=proof)
    with pytest.raises(NotAboutThePack, match=r"\(beef.lot\) is not about this pack"):
        derive(verified.entries, held, parties)  # the commitment, but no path to its root
    sold_view = httpx.get(url + sold.path(), headers={"accept": "application/json"}).json()
    with pytest.raises(NotAboutThePack, match="is not about this pack"):
        # the sold pack's own genuine path, with the held pack's journey
        derive(verified.entries, sold, parties, lot_proof=sold_view["pack"]["lotProof"])
    moved = {**proof, "index": proof["index"] ^ 1}
    with pytest.raises(NotAboutThePack, match=r"\(beef.lot\) is not about this pack"):
        derive(verified.entries, held, parties, lot_proof=moved)
    with pytest.raises(NotAboutThePack, match="no signed entry commissions this pack"):
        derive([], held, parties)
    assert view["product"]["productName"] == journey.product["productName"]  # the server's own


def test_a_scan_carries_the_lot_commitment_not_the_lot(told) -> None:
    """The scenario commits its lot (beef.lot), so a scan carries that short entry and one path
    of about log2(packs) hashes, never the commissioning's list of every pack in the lot."""
    url, _, _, summary = told
    held = parse_pack_uri(summary["urls"]["pack held by customs"])
    view = httpx.get(url + held.path(), headers={"accept": "application/json"}).json()
    types = {
        json.loads(base64.b64decode(e["entry"]))["type"]: len(e["entry"])
        for e in view["verification"]["entries"]
    }
    assert "beef.commission" not in types
    assert types["beef.lot"] < 3000
    assert len(view["pack"]["lotProof"]["path"]) <= 7  # a lot of at most 128 packs


def test_photo_upload_redirects_to_the_scan_page(told) -> None:
    url, _, out, _ = told
    photo = (out / "qr" / "0042.png").read_bytes()
    response = httpx.post(url + "/v1/beef/scan", files={"photo": ("label.png", photo, "image/png")})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/21/0042")
    bad = httpx.post(url + "/v1/beef/scan", files={"photo": ("x.png", b"nope", "image/png")})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid-body"


def test_trace_and_csv_for_a_signed_member(told) -> None:
    url, home, _, summary = told
    signer = Home(home).member_signer("samr")
    query = f"gtin={summary['gtin']}&lot={summary['lot']}"

    def signed(path: str) -> httpx.Response:
        now = format_ts(datetime.now(UTC))
        headers = sign_request(signer, "samr", "GET", path, query, b"", now)
        return httpx.get(f"{url}{path}?{query}", headers=headers)

    trace = signed("/v1/beef/trace")
    assert trace.status_code == 200, trace.text
    body = trace.json()
    assert len(body["packs"]) == 120
    assert {
        c["uri"].rsplit(":", 1)[-1] for c in body["containers"] if c["kind"] == "container"
    } == set(summary["containers"])
    exported = signed("/v1/beef/export.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["biz_step"] == "commissioning"
    assert rows[-1]["record_type"] == "beef.recall"
    assert httpx.get(f"{url}/v1/beef/trace?{query}").status_code == 401


def test_audit_after_the_story(told) -> None:
    _, home, _, _ = told
    result = CliRunner().invoke(app, ["audit", "--home", str(home), "--projections"])
    assert result.exit_code == 0, result.output
    assert "projections ok" in result.output, result.output


def test_projections_audit_finds_an_edited_holder_but_not_scan_counts(told, tmp_path: Path) -> None:
    """On a copy (the served ledger stays as it is): scan counts are not ledger state, so
    changing them is no fault (a replay leaves them alone); a pack's holder is, and is found."""
    _, home, _, _ = told
    copy = tmp_path / "home"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("ledger.db*"))
    with (
        closing(sqlite3.connect(home / "ledger.db")) as src,
        closing(sqlite3.connect(copy / "ledger.db")) as dst,
    ):
        src.backup(dst)
        scanned = dst.execute("UPDATE beef_scan_sources SET after_sale = NOT after_sale").rowcount
        assert scanned > 0, "the story scans packs, so their counters exist"
        dst.commit()
    audit_copy = ["audit", "--home", str(copy), "--projections"]
    result = CliRunner().invoke(app, audit_copy)
    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(copy / "ledger.db")) as db:
        (uri,) = db.execute(
            "SELECT uri FROM beef_objects WHERE kind = 'pack' AND holder != 'retail-c' LIMIT 1"
        ).fetchone()
        db.execute("UPDATE beef_objects SET holder = 'retail-c' WHERE uri = ?", (uri,))
        db.commit()
    result = CliRunner().invoke(app, audit_copy)
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert f"table beef_objects: row uri={uri!r} differs" in flat, flat
    assert "in holder" in flat, flat


def test_qr_image_route_serves_the_printed_code(told) -> None:
    _, _, _, summary = told
    response = httpx.get(summary["urls"]["QR image of the sold pack"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    (result,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert result.text == summary["urls"]["sold pack (cloned label)"]


def test_qr_svg_and_unknown_formats(told) -> None:
    url, _, _, summary = told
    base = f"{url}/v1/beef/qr/{summary['gtin']}/{summary['lot']}"
    svg = httpx.get(f"{base}/0003.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg")
    assert httpx.get(f"{base}/0003.gif").status_code == 404
    assert httpx.get(f"{base}/9999.png").status_code == 404
