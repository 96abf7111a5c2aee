"""The scan page in headless Chromium: every fact it shows is derived in the browser from signed
entries bound to the scanned pack, so an operator who rewrites the app's tables (but holds no
member key) can make the page fail, never make it show a forged fact under "verified"."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import create_engine, insert, select, update

from apps.beef import builders as b
from apps.beef.identifiers import pack_id
from apps.beef.journey import Party, derive
from apps.beef.tables import certificates, event_objects, events, lots, objects, readings
from ledger.service.bundles import verify_page_bundle
from tests.support.beef import (
    GTIN,
    MEATWORKS,
    PORT_AU,
    PORT_CN,
    STORE_A,
    WAREHOUSE,
    BeefWorld,
    beef_world,
    lot_data,
)
from tests.support.browser import change_first_proof_hash, chromium
from tests.support.server import running_server

pytestmark = pytest.mark.browser

ISSUER = "Australian Government DAFF"
HEALTH_CERTIFICATE = "AU-EHC-L2611"


@dataclass
class Site:
    url: str
    home: Path
    packs: list[str]  # lot L2611: [0] sold, [1] on sale, [2] held by customs, [3] at the meatworks
    other: str  # a sold pack of another lot


def chain(world: BeefWorld) -> tuple[list[str], str]:
    """Lot L2611: a carton of two packs to retail-a (one sold); a carton of one pack shipped
    with an export health certificate, logged warm on the way, held by customs as
    non-conformant. Lot L2612: one pack sold at retail-a. L2611 is committed (beef.lot), so
    its scans carry the commitment and a path; L2612 is not, so its scans carry the
    commissioning itself."""
    packs = world.commission(4, commit=True)  # scans carry its commitment and a path
    carton, held_carton = world.carton(1), world.carton(2)
    world.ok("au-meatworks", b.aggregate(carton, packs[:2], MEATWORKS, b.now()))
    world.ok("au-meatworks", b.ship([carton], "au-meatworks", "au-exporter", MEATWORKS, b.now()))
    world.ok("au-exporter", b.receive([carton], "au-meatworks", PORT_AU, b.now()))
    world.ok("au-exporter", b.sensor([carton], [(b.now(), -1.5), (b.now(), 3.0)], PORT_AU, b.now()))
    world.ok("au-exporter", b.ship([carton], "au-exporter", "sh-importer", PORT_AU, b.now()))
    world.ok("sh-importer", b.receive([carton], "au-exporter", WAREHOUSE, b.now()))
    world.ok("sh-importer", b.ship([carton], "sh-importer", "retail-a", WAREHOUSE, b.now()))
    world.ok("retail-a", b.receive([carton], "sh-importer", STORE_A, b.now()))
    world.ok("retail-a", b.disaggregate(carton, packs[:2], STORE_A, b.now()))
    world.ok("retail-a", b.sell([packs[0]], STORE_A, b.now()))

    certificate = {"kind": "export-health", "number": HEALTH_CERTIFICATE, "issuer": ISSUER}
    world.ok("au-meatworks", b.aggregate(held_carton, [packs[2]], MEATWORKS, b.now()))
    world.ok(
        "au-meatworks",
        b.ship(
            [held_carton],
            "au-meatworks",
            "sh-importer",
            MEATWORKS,
            b.now(),
            certificates=[certificate],
        ),
    )
    warm = [(b.now(), -1.0), (b.now(), 2.5), (b.now(), 4.8)]
    world.ok("sh-importer", b.sensor([held_carton], warm, PORT_CN, b.now()))
    world.ok(
        "gacc-shanghai",
        b.inspect([held_carton], HEALTH_CERTIFICATE, False, "hold", PORT_CN, b.now()),
    )

    world.lot = "L2612"
    (other,) = world.commission(1)
    world.ok("au-meatworks", b.ship([other], "au-meatworks", "retail-a", MEATWORKS, b.now()))
    world.ok("retail-a", b.receive([other], "au-meatworks", STORE_A, b.now()))
    world.ok("retail-a", b.sell([other], STORE_A, b.now()))
    return packs, other


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("beef") / "home"
    world = beef_world(home)
    packs, other = chain(world)
    world.node.close()
    with running_server(home) as url:
        yield Site(url, home, packs, other)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def path_of(uri: str) -> str:
    return uri[len("https://id.gs1.org") :]


def open_page(browser: Browser, url: str, locale: str = "en-US") -> Page:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(url)
    settled(page)
    return page


def settled(page: Page) -> None:
    """Wait for the browser's verdict (a locator, not a script: the page's CSP forbids eval)."""
    page.locator("#verdict:not([data-verdict=pending])").wait_for(timeout=15000)


def verdict(page: Page) -> str:
    return page.locator("#verdict").get_attribute("data-verdict") or ""


def facts(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("globalThis.sealchain.facts")
    return found


def test_real_pack_is_verified_by_the_browser(site: Site, browser: Browser) -> None:
    page = open_page(browser, site.url + path_of(site.packs[1]))
    assert verdict(page) == "verified"
    assert "Verified in your browser" in page.locator("#verdict").inner_text()
    assert page.locator("#status").get_attribute("data-status") == "on_sale"
    assert "On sale at" in page.locator("#status").inner_text()
    marks = page.locator("#journey li .mark").all_inner_texts()
    assert len(marks) == 10 and set(marks) == {"\u2713"}
    assert page.locator("svg.chart circle").count() == 2
    assert page.locator("h1").inner_text() == lot_data("L2611")["productName"]
    page.context.close()


def test_page_and_static_files_carry_the_security_headers(site: Site) -> None:
    for path in (path_of(site.packs[1]), "/static/ledger/verify.js", "/static/beef/scan.js"):
        response = httpx.get(site.url + path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(site.url + "/static/beef/../site/templates/scan.html").status_code == 404
    assert httpx.get(site.url + "/static/beef/scan.html").status_code == 404


def test_browser_and_python_derive_the_same_journey(site: Site, browser: Browser) -> None:
    """The page's script and `sealchain scan` (apps.beef.journey) are two derivations of the
    same facts from the same signed entries: they must agree, pack by pack."""
    from ledger.home import Home

    trust = Home(site.home).trust_policy()
    for uri in [*site.packs, site.other]:
        page = open_page(browser, site.url + path_of(uri))
        shown = facts(page)
        page.context.close()
        view = httpx.get(site.url + path_of(uri), headers={"accept": "application/json"}).json()
        verified = verify_page_bundle(view["verification"], trust)
        parties = {o: Party(m.name, frozenset(m.roles)) for o, m in verified.parties.items()}
        pack, proof = pack_id(*_ids(uri)), view["pack"]["lotProof"]
        assert (proof is not None) == (uri != site.other)  # L2611 is committed, L2612 is not
        journey = derive(verified.entries, pack, parties, lot_proof=proof)
        assert shown["status"] == journey.status, uri
        assert shown["product"] == journey.product
        assert [(s["index"], s["type"], s["time"]) for s in shown["steps"]] == [
            (s.index, s.type, s.time) for s in journey.steps
        ]
        assert [(r["value"], r["status"]) for r in shown["readings"]] == [
            (r.value, r.status) for r in journey.readings
        ]
        assert shown["certificates"] == journey.certificates


def _ids(uri: str) -> tuple[str, str, str]:
    parts = uri.split("/")
    return parts[4], parts[6], parts[8]


# --- an operator rewrites the derived tables ---------------------------------------------------


@pytest.fixture
def forged(tmp_path: Path, browser: Browser) -> Iterator[tuple[BeefWorld, str, list[str], str]]:
    """A fresh ledger of its own (the forgeries must not leak into other tests), served."""
    world = beef_world(tmp_path / "home")
    packs, other = chain(world)
    world.node.close()
    with running_server(tmp_path / "home") as url:
        yield world, url, packs, other


def _tables(world: BeefWorld) -> Any:
    return create_engine(world.node.settings.db_url())


def _shows(browser: Browser, url: str) -> tuple[str, str]:
    page = open_page(browser, url)
    result = verdict(page), page.locator("body").inner_text()
    page.context.close()
    return result


def test_forged_certificate_issuer_is_not_shown_as_verified(forged, browser) -> None:
    world, url, packs, _ = forged
    with _tables(world).begin() as conn:
        done = conn.execute(update(certificates).values(issuer="Acme Certification (forged)"))
        assert done.rowcount == 1
    state, text = _shows(browser, url + path_of(packs[2]))
    assert state == "verified"
    assert ISSUER in text
    assert "forged" not in text


def test_forged_customs_decision_is_not_shown_as_verified(forged, browser) -> None:
    world, url, packs, _ = forged
    with _tables(world).begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.biz_step == "inspecting")
            .values(summary="Customs inspection: conformant, release")
        )
        conn.execute(update(objects).values(held=False))  # and the status the server keeps
    state, text = _shows(browser, url + path_of(packs[2]))
    assert state == "verified"
    assert "non-conformant, held" in text
    assert "conformant, release" not in text.replace("non-conformant", "")
    page = open_page(browser, url + path_of(packs[2]))
    assert page.locator("#status").get_attribute("data-status") == "held"
    page.context.close()


def test_forged_temperature_readings_and_counts_are_not_shown_as_verified(forged, browser) -> None:
    world, url, packs, _ = forged
    with _tables(world).begin() as conn:
        conn.execute(update(readings).values(value=-1.5, status="ok"))
        conn.execute(
            update(events)
            .where(events.c.biz_step == "sensor_reporting")
            .values(summary="Temperature log: 3 readings, -1.5 to -1.5 C")
        )
    page = open_page(browser, url + path_of(packs[2]))
    assert verdict(page) == "verified"
    assert [r["value"] for r in facts(page)["readings"]] == [-1.0, 2.5, 4.8]
    assert page.locator("svg.chart circle[data-status=alarm]").count() == 1
    assert "1 was above 4 °C" in page.locator("#alarms").inner_text()
    page.context.close()


def test_forged_lot_origin_is_not_shown_as_verified(forged, browser) -> None:
    world, url, packs, _ = forged
    with _tables(world).begin() as conn:
        row = conn.execute(select(lots.c.lot_key, lots.c.data)).first()
        assert row is not None
        data = json.loads(row.data) | {"origin": "Hokkaido, Japan (forged)"}
        conn.execute(update(lots).values(data=json.dumps(data)))
    state, text = _shows(browser, url + path_of(packs[1]))
    assert state == "verified"
    assert "Queensland, Australia" in text
    assert "Hokkaido" not in text


def test_another_lots_sale_linked_to_a_pack_fails_the_verdict(forged, browser) -> None:
    """The signed sale is genuine, but of another lot's pack: bound to the scanned pack, the
    browser refuses it rather than show the pack as sold."""
    world, url, packs, _ = forged
    with _tables(world).begin() as conn:
        sold = (
            conn.execute(
                select(events.c.event_id)
                .where(events.c.biz_step == "retail_selling")
                .order_by(events.c.idx.desc())
            )
            .scalars()
            .first()
        )
        conn.execute(insert(event_objects).values(event_id=sold, uri=packs[1]))
        conn.execute(update(objects).where(objects.c.uri == packs[1]).values(sold_idx=99))
    page = open_page(browser, url + path_of(packs[1]))
    assert verdict(page) == "failed"
    assert "is not about this pack" in page.locator("#verdict").inner_text()
    assert page.locator("#verified").is_hidden()
    assert page.locator("#journey").count() == 0
    page.context.close()


def test_a_forged_member_name_is_not_shown_as_verified(forged, browser) -> None:
    """Party names come from the signed governance entries, not the members table."""
    from ledger.storage.tables import members

    world, url, packs, _ = forged
    with _tables(world).begin() as conn:
        conn.execute(update(members).where(members.c.org == "retail-a").values(name="Fake Mart"))
    state, text = _shows(browser, url + path_of(packs[1]))
    assert state == "verified"
    assert "Fake Mart" not in text


def test_a_path_to_another_packs_leaf_turns_the_verdict_red(site: Site, browser: Browser) -> None:
    """The lot commitment stands for the commissioning only with the scanned pack's own path:
    a server that sends another pack's path (of the same lot, genuine) is refused."""
    target = site.url + path_of(site.packs[1])
    other = httpx.get(site.url + path_of(site.packs[3]), headers={"accept": "text/html"}).text
    other_proof = json.loads(_embedded(other, "subject"))["pack"]["lotProof"]

    def swap(route: Route) -> None:
        html = route.fetch().text()
        subject = json.loads(_embedded(html, "subject"))
        assert subject["pack"]["lotProof"] != other_proof
        subject["pack"]["lotProof"] = other_proof
        html = html.replace(_embedded(html, "subject"), json.dumps(subject))
        route.fulfill(body=html, content_type="text/html")

    context = browser.new_context()
    page = context.new_page()
    page.route(target, swap)
    page.goto(target)
    settled(page)
    assert verdict(page) == "failed"
    assert "(beef.lot) is not about this pack" in page.locator("#verdict").inner_text()
    context.close()


def _embedded(html: str, name: str) -> str:
    """The JSON a page embeds in <script type="application/json" id="NAME">."""
    start = html.index(f'id="{name}">') + len(f'id="{name}">')
    return html[start : html.index("</script>", start)]


def test_a_tampered_proof_turns_the_verdict_red(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()

    target = site.url + path_of(site.packs[1])
    page.route(target, change_first_proof_hash)
    page.goto(target)
    settled(page)
    assert verdict(page) == "failed"
    assert "NOT VERIFIED" in page.locator("#verdict").inner_text()
    assert page.locator("#verified").is_hidden()
    context.close()


def test_signed_text_is_shown_as_signed_and_escaped(tmp_path: Path, browser: Browser) -> None:
    world = beef_world(tmp_path / "home")
    world.lot = "XSS1"
    data = lot_data("XSS1") | {
        "productName": "<script>alert(1)</script><img src=x onerror=alert(2)>"
    }
    packs = [pack_id(GTIN, "XSS1", "0001").uri()]
    world.ok("au-meatworks", b.commission(packs, data, MEATWORKS, b.now()))
    world.node.close()
    with running_server(tmp_path / "home") as url:
        context = browser.new_context()
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + path_of(packs[0]))
        settled(page)
        assert verdict(page) == "verified"
        assert page.locator("h1").inner_text() == data["productName"]
        assert page.locator("#product img").count() == 0
        assert dialogs == []
        context.close()


def test_unknown_code_page(site: Site, browser: Browser) -> None:
    never = path_of(site.packs[0]).rsplit("/", 1)[0] + "/9999"
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(site.url + never)
    assert response is not None and response.status == 404
    assert page.locator("#status").get_attribute("data-status") == "unknown"
    assert "possible counterfeit" in page.locator("#status").inner_text()
    context.close()


def test_scan_counts_are_the_servers_statement_apart_from_the_record(
    site: Site, browser: Browser
) -> None:
    page = open_page(browser, site.url + path_of(site.packs[3]))
    aside = page.locator("aside#scans")
    assert aside.get_attribute("data-source") == "server"
    assert "not from the signed record" in aside.inner_text()
    assert page.locator("#verified aside").count() == 0
    page.context.close()


# --- languages ---------------------------------------------------------------------------------


def test_the_page_and_its_verdict_read_in_chinese_when_chinese_is_preferred(
    site: Site, browser: Browser
) -> None:
    page = open_page(browser, site.url + path_of(site.packs[2]), locale="zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert verdict(page) == "verified"
    assert "已在您的浏览器中验证" in page.locator("#verdict").inner_text()
    assert "海关扣留" in page.locator("#status").inner_text()
    journey = page.locator("#journey").inner_text()
    assert "海关查验：不合格，扣留" in journey
    assert "Customs" not in journey
    # signed data is shown as signed, never translated
    assert page.locator("h1").inner_text() == lot_data("L2611")["productName"]
    assert "来自服务器" in page.locator("aside#scans").inner_text()
    page.context.close()


def test_the_page_reads_in_english_when_english_is_preferred(site: Site, browser: Browser) -> None:
    page = open_page(browser, site.url + path_of(site.packs[2]), locale="en-GB")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Held by customs" in page.locator("#status").inner_text()
    assert "Customs inspection: non-conformant, held" in page.locator("#journey").inner_text()
    assert not re.search(r"[\u4e00-\u9fff]", page.locator("main").inner_text())
    page.context.close()


def test_the_language_switch_changes_and_remembers_the_language(
    site: Site, browser: Browser
) -> None:
    page = open_page(browser, site.url + path_of(site.packs[1]), locale="en-US")
    page.click("nav.languages a[hreflang=zh-CN]")
    settled(page)
    assert "已在您的浏览器中验证" in page.locator("#verdict").inner_text()
    page.goto(site.url + path_of(site.packs[3]))  # no ?lang: the cookie keeps Chinese
    settled(page)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.context.close()
