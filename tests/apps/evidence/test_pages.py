"""The evidence pages in Chromium: a deposited file gets a verified verdict listing its
registrations earliest first, a changed file gets "no registration", a tampered answer fails,
forged projection rows never appear under "verified", the file never leaves the page, and the
certificate page reads in Chinese or English."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import create_engine, update

from apps.evidence.demo import AUTHOR, INFRINGER, PLATFORM
from apps.evidence.tables import deposits
from tests.support.browser import change_first_proof_hash, chromium
from tests.support.evidence import evidence_world
from tests.support.server import running_server

pytestmark = pytest.mark.browser

FILE = os.urandom(5000)  # bytes no other test deposits


@dataclass
class Site:
    url: str
    home: Path
    first: str
    second: str
    single: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("evidence-pages") / "home"
    world = evidence_world(home)
    first = world.deposit(AUTHOR, FILE, title="the file, first")
    second = world.deposit(INFRINGER, FILE, title="the file, again")
    single = world.deposit(
        PLATFORM, b"<html>page</html>", title="captured page", media_type="text/html",
        method="web-page", source_url="https://site-x.example/p",
        captured_at="2026-03-01T09:30:15+08:00",
    )  # fmt: skip
    world.node.close()
    with running_server(home) as url:
        yield Site(url, home, first, second, single)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def settled(page: Page) -> str:
    page.locator("#verdict[data-verdict=verified], #verdict[data-verdict=failed]").wait_for(
        timeout=15000
    )
    return page.locator("#verdict").get_attribute("data-verdict") or ""


def check(browser: Browser, site: Site, data: bytes, locale: str = "en-US", route=None) -> Page:
    page = browser.new_context(locale=locale).new_page()
    if route is not None:
        page.route("**/v1/evidence/verify", route)
    page.goto(site.url + "/evidence/verify")
    page.locator("#verdict[data-verdict=waiting]").wait_for()
    page.set_input_files(
        "#file", files=[{"name": "f.bin", "mimeType": "application/octet-stream", "buffer": data}]
    )
    settled(page)
    return page


def test_a_deposited_file_is_verified_with_every_registration_earliest_first(
    browser: Browser, site: Site
) -> None:
    page = check(browser, site, FILE)
    assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
    numbers = page.locator("section.registration").evaluate_all(
        "sections => sections.map(s => s.dataset.number)"
    )
    assert numbers == [site.first, site.second]
    assert page.locator("#status").get_attribute("data-status") == "registered"
    text = page.locator("#verified").inner_text()
    assert "the file, first" in text and "Author Li" in text and "Website X" in text


def test_a_changed_file_has_no_registration(browser: Browser, site: Site) -> None:
    page = check(browser, site, FILE[:-1] + bytes([FILE[-1] ^ 1]))
    assert page.locator("#status").get_attribute("data-status") == "none"
    assert page.locator("section.registration").count() == 0


def _change_one_character(text: str) -> str:
    return ("B" if text[0] != "B" else "C") + text[1:]


@pytest.mark.parametrize("part", ["proof", "entry"])
def test_a_tampered_answer_fails(browser: Browser, site: Site, part: str) -> None:
    def tamper(route: Route) -> None:
        answer = route.fetch().json()
        item = answer["verification"]["entries"][-1]
        if part == "proof":
            item["proof"][0] = _change_one_character(item["proof"][0])
        else:
            item["entry"] = _change_one_character(item["entry"])
        route.fulfill(body=json.dumps(answer), content_type="application/json")

    page = check(browser, site, FILE, route=tamper)
    assert page.locator("#verdict").get_attribute("data-verdict") == "failed"
    assert "NOT VERIFIED" in page.locator("#verdict").inner_text()
    assert page.locator("#verified").is_hidden()
    assert page.locator("section.registration").count() == 0


def test_a_second_file_replaces_the_first_files_verdict(browser: Browser, site: Site) -> None:
    page = check(browser, site, FILE)
    assert page.locator("section.registration").count() == 2
    page.set_input_files(
        "#file", files=[{"name": "g.bin", "mimeType": "text/plain", "buffer": b"another file"}]
    )
    page.locator("#status[data-status=none]").wait_for()
    assert settled(page) == "verified"
    assert page.locator("section.registration").count() == 0
    assert _sha(b"another file") in page.locator("#hash").inner_text()


def test_another_files_registration_smuggled_in_fails(browser: Browser, site: Site) -> None:
    """A server that answers with genuine entries about another file is as wrong as a forger."""

    def swap(route: Route) -> None:
        other = route.fetch(post_data=json.dumps({"sha256": _sha(b"<html>page</html>")}))
        route.fulfill(body=other.text(), content_type="application/json")

    page = check(browser, site, FILE, route=swap)
    assert page.locator("#verdict").get_attribute("data-verdict") == "failed"
    assert "not a registration of this file" in page.locator("#verdict").inner_text()


def test_forged_projection_rows_never_show_as_verified(browser: Browser, site: Site) -> None:
    engine = create_engine(f"sqlite:///{site.home / 'ledger.db'}")
    with engine.begin() as conn:
        conn.execute(update(deposits).values(title="FORGED TITLE", org="bj-internet-court"))
    engine.dispose()
    page = check(browser, site, FILE)
    text = page.locator("#verified").inner_text()
    assert "FORGED" not in text and "Beijing Internet Court" not in text
    assert "the file, first" in text
    certificate = browser.new_context(locale="en-US").new_page()
    certificate.goto(f"{site.url}/evidence/{site.single}")
    assert settled(certificate) == "verified"
    assert "FORGED" not in certificate.locator("#verified").inner_text()
    assert "captured page" in certificate.locator("#verified").inner_text()


def test_the_file_never_leaves_the_page(browser: Browser, site: Site) -> None:
    bodies: list[bytes] = []
    page = browser.new_context().new_page()
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))
    page.goto(site.url + "/evidence/verify")
    page.locator("#verdict[data-verdict=waiting]").wait_for()
    page.set_input_files(
        "#file", files=[{"name": "f.bin", "mimeType": "application/octet-stream", "buffer": FILE}]
    )
    settled(page)
    assert bodies and all(len(body) < 200 and FILE[:32] not in body for body in bodies)


@pytest.mark.parametrize(
    ("locale", "words"),
    [("zh-CN", ["存证编号", "存证人", "检查点"]), ("en-US", ["Deposit number", "Depositor"])],
)
def test_the_certificate_page_verifies_in_the_readers_language(
    browser: Browser, site: Site, locale: str, words: list[str]
) -> None:
    page = browser.new_context(locale=locale).new_page()
    page.goto(f"{site.url}/evidence/{site.single}")
    assert settled(page) == "verified"
    text = page.locator("#verified").inner_text()
    assert all(word in text for word in words), text
    assert "https://site-x.example/p" in text
    assert page.locator("#cases[data-source=server]").count() == 1


def test_the_certificate_page_shows_signed_times_at_the_signers_offset(
    browser: Browser, site: Site
) -> None:
    page = browser.new_context(locale="en-US", timezone_id="America/New_York").new_page()
    page.goto(f"{site.url}/evidence/{site.single}")
    assert settled(page) == "verified"
    captured = page.locator("time[datetime='2026-03-01T09:30:15+08:00']")
    assert "9:30:15" in captured.inner_text() and "(UTC+08:00)" in captured.inner_text()


def test_another_deposits_genuine_page_under_this_number_fails(
    browser: Browser, site: Site
) -> None:
    """A server that answers EV-b with the (genuine, verifiable) page of EV-a is caught."""

    def other(route: Route) -> None:
        route.fulfill(response=route.fetch(url=f"{site.url}/evidence/{site.first}"))

    page = browser.new_context().new_page()
    page.route(f"**/evidence/{site.single}", other)
    page.goto(f"{site.url}/evidence/{site.single}")
    assert settled(page) == "failed"
    assert f"not deposit {site.single}" in page.locator("#verdict").inner_text()
    assert page.locator("#verified").is_hidden()


def test_the_certificate_pages_downloads_answer(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{site.url}/evidence/{site.single}")
    links = page.locator(".downloads a").evaluate_all("links => links.map(a => a.href)")
    assert len(links) == 4
    for link in links:
        assert page.request.get(link).status == 200, link


def test_the_certificate_page_compares_a_file(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{site.url}/evidence/{site.single}")
    settled(page)
    page.set_input_files(
        "#compare-file",
        files=[{"name": "p.html", "mimeType": "text/html", "buffer": b"<html>page</html>"}],
    )
    page.locator("#compare-result[data-match=true]").wait_for()
    page.set_input_files(
        "#compare-file",
        files=[{"name": "p.html", "mimeType": "text/html", "buffer": b"<html>page!</html>"}],
    )
    page.locator("#compare-result[data-match=false]").wait_for()


def test_a_tampered_certificate_page_fails(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    page.route(f"**/evidence/{site.single}", change_first_proof_hash)
    page.goto(f"{site.url}/evidence/{site.single}")
    assert settled(page) == "failed"
    assert page.locator("#verified").is_hidden()


@pytest.mark.parametrize(("locale", "word"), [("zh-CN", "无此存证"), ("en-US", "No such deposit")])
def test_an_unknown_number_is_a_localized_404(
    browser: Browser, site: Site, locale: str, word: str
) -> None:
    page = browser.new_context(locale=locale).new_page()
    for number in ("EV-99999999", "not-a-number", site.first.replace("EV-", "EV-9")):
        answer = page.goto(f"{site.url}/evidence/{number}")
        assert answer is not None and answer.status == 404
        assert word in page.locator("#status").inner_text()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
