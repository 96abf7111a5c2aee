"""The scan page in headless Chromium: the browser computes the verdict from the proofs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route

from apps.beef import builders as b
from tests.support.beef import (
    MEATWORKS,
    PORT_AU,
    STORE_A,
    WAREHOUSE,
    BeefWorld,
    beef_world,
    lot_data,
)
from tests.support.browser import chromium
from tests.support.server import running_server

pytestmark = pytest.mark.browser


def chain(world: BeefWorld) -> list[str]:
    """4 packs; a carton of 2 goes meatworks -> exporter -> importer -> retail-a; one is sold."""
    packs = world.commission(4)
    carton = world.carton(1)
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
    return packs


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    home = tmp_path_factory.mktemp("beef") / "home"
    world = beef_world(home)
    packs = chain(world)
    world.node.close()
    with running_server(home) as url:
        yield url, packs


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def path_of(uri: str) -> str:
    return uri[len("https://id.gs1.org") :]


def verdict(page: Page) -> str:
    page.wait_for_function(
        "document.getElementById('verdict').dataset.verdict !== 'pending'", timeout=15000
    )
    return page.locator("#verdict").get_attribute("data-verdict") or ""


def test_real_pack_is_verified_by_the_browser(site, browser) -> None:
    url, packs = site
    page = browser.new_page()
    response = page.goto(url + path_of(packs[1]))
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert verdict(page) == "verified"
    assert "Verified in your browser" in page.locator("#verdict").inner_text()
    assert page.locator("#status").get_attribute("data-status") == "on_sale"
    marks = page.locator("#journey li .mark").all_inner_texts()
    assert len(marks) == 10 and set(marks) == {"\u2713"}
    assert page.locator("svg.chart circle").count() == 2
    page.close()


def test_altered_proof_hash_turns_the_verdict_red(site, browser) -> None:
    url, packs = site
    page = browser.new_page()

    def tamper(route: Route) -> None:
        html = route.fetch().text()
        # change one character of the first inclusion-proof hash in the embedded proof data
        match = re.search(r'"proof":\["([A-Za-z0-9+/])', html)
        assert match is not None
        replacement = "B" if match.group(1) != "B" else "C"
        html = html[: match.start(1)] + replacement + html[match.end(1) :]
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route(url + path_of(packs[1]), tamper)
    page.goto(url + path_of(packs[1]))
    assert verdict(page) == "failed"
    assert "NOT VERIFIED" in page.locator("#verdict").inner_text()
    assert "inclusion proof" in page.locator("#verdict").inner_text()
    page.close()


def test_page_text_that_differs_from_the_signed_entry_turns_red(site, browser) -> None:
    url, packs = site
    page = browser.new_page()

    def relabel(route: Route) -> None:
        html = route.fetch().text().replace("Rockhampton, AU", "Rockhampton, AU (organic!)", 1)
        html = html.replace('data-place="Meatworks est. 1234"', 'data-place="Organic farm"', 1)
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route(url + path_of(packs[1]), relabel)
    page.goto(url + path_of(packs[1]))
    assert verdict(page) == "failed"
    page.close()


def test_unknown_code_page(site, browser) -> None:
    url, packs = site
    never = path_of(packs[0]).rsplit("/", 1)[0] + "/9999"
    page = browser.new_page()
    response = page.goto(url + never)
    assert response is not None and response.status == 404
    assert page.locator("#status").get_attribute("data-status") == "unknown"
    assert "possible counterfeit" in page.locator("#status").inner_text()
    page.close()


def test_sold_pack_scanned_again_warns_of_a_clone(site, browser) -> None:
    url, packs = site
    sold = url + path_of(packs[0])
    httpx.get(sold, headers={"accept": "application/json"})  # the buyer's own scan
    page = browser.new_page()
    page.goto(sold)  # another scan after the sale, as from a copied label elsewhere
    assert verdict(page) == "verified"
    assert page.locator("#status").get_attribute("data-status") == "sold"
    assert "copied" in page.locator("#clone-warning").inner_text()
    page.close()


def test_product_text_is_escaped(tmp_path: Path, browser) -> None:
    world = beef_world(tmp_path / "home")
    world.lot = "XSS1"
    data = lot_data("XSS1") | {
        "productName": "<script>alert(1)</script><img src=x onerror=alert(2)>"
    }
    packs = [f"https://id.gs1.org/01/{data['gtin']}/10/XSS1/21/0001"]
    world.ok("au-meatworks", b.commission(packs, data, MEATWORKS, b.now()))
    world.node.close()
    with running_server(tmp_path / "home") as url:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + path_of(packs[0]))
        assert verdict(page) == "verified"
        assert page.locator("h1").inner_text() == data["productName"]
        assert page.locator("#product img").count() == 0
        assert dialogs == []
        page.close()
