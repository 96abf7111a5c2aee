"""The search and bulk check pages: search finds certificates by manufacturer and by model and
links each to its verified page; a query of the wrong length is a message, not an error; in
Chromium, the CSV upload answers row by row with a summary and a download equal to the API's
answer, a file over the limit is refused before anything is sent, and the pages read in
Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from apps.certs import builders
from apps.certs.public_api import MAX_CSV_BYTES
from tests.support.browser import chromium
from tests.support.certs import certs_world
from tests.support.server import running_server

TODAY = datetime.now(UTC).date()
CSV = (
    "number,date\n"
    "PBOC-POS-2026-0201\n"
    "PBOC-POS-2026-0202\n"
    "PBOC-NONE-0001\n"
    "PBOC-POS-2026-0201,2026-13-40\n"
    "PBOC-POS-2026-0201," + (TODAY - timedelta(days=400)).isoformat() + "\n"
)


@dataclass
class Site:
    url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("certs-lookup") / "home"
    world = certs_world(home)
    current = {"valid_from": TODAY - timedelta(days=60), "valid_until": TODAY + timedelta(days=600)}
    world.certify(number="PBOC-POS-2026-0201", **current)
    suspended = world.certify(number="PBOC-POS-2026-0202", model="SP-300", **current)
    world.ok("nfcc", builders.suspend(suspended, TODAY - timedelta(days=1), "surveillance failed"))
    world.node.close()
    with running_server(home) as url:
        yield Site(url)


def test_search_finds_by_manufacturer_and_model_and_links_to_pages(site: Site) -> None:
    page = httpx.get(site.url + "/certs/search", params={"q": "pos-maker"}).text
    assert page.count('<tr data-number="PBOC-POS-2026-') == 2
    assert 'href="/certs/PBOC-POS-2026-0202"' in page and "This list is the server" in page
    by_model = httpx.get(site.url + "/certs/search", params={"q": "sp-300"}).text
    assert 'data-number="PBOC-POS-2026-0202" data-status="suspended"' in by_model
    assert "PBOC-POS-2026-0201" not in by_model
    none = httpx.get(site.url + "/certs/search", params={"q": "no such maker"}).text
    assert 'id="none"' in none
    assert 'id="results"' not in httpx.get(site.url + "/certs/search").text


def test_wildcards_are_searched_as_characters(site: Site) -> None:
    for q in ("%%", "__", "p%s"):
        page = httpx.get(site.url + "/certs/search", params={"q": q}).text
        assert 'id="none"' in page, q
    api = httpx.get(site.url + "/v1/certs/search", params={"q": "%%"}).json()
    assert api == {"certificates": []}


@pytest.mark.parametrize("q", ["x", "y" * 61, "z" * 201])
def test_a_query_of_the_wrong_length_is_a_message(site: Site, q: str) -> None:
    answer = httpx.get(site.url + "/certs/search", params={"q": q})
    assert answer.status_code == 422 and "text/html" in answer.headers["content-type"]
    assert "Search for 2 to 60 characters." in answer.text


def test_the_search_messages_and_statuses_are_in_the_readers_language(site: Site) -> None:
    zh = {"accept-language": "zh-CN"}
    short = httpx.get(site.url + "/certs/search", params={"q": "x"}, headers=zh)
    assert "请输入 2 至 60 个字符进行搜索。" in short.text
    assert "Search for 2 to 60 characters." not in short.text
    found = httpx.get(site.url + "/certs/search", params={"q": "pos-maker"}, headers=zh).text
    english = httpx.get(site.url + "/certs/search", params={"q": "pos-maker"}).text
    assert found != english and 'id="results"' in found
    for label in ("Valid", "Suspended", "Revoked", "Expired"):
        assert f">{label}<" not in found, label


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _bulk(browser: Browser, site: Site, locale: str = "en-US") -> tuple[Page, list[str]]:
    page = browser.new_context(locale=locale, accept_downloads=True).new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/bulk/verify.csv" in r.url else None)
    page.goto(site.url + "/certs/bulk")
    return page, sent


@pytest.mark.browser
def test_the_csv_upload_answers(browser: Browser, site: Site, tmp_path: Path) -> None:
    page, sent = _bulk(browser, site)
    page.set_input_files("#csv", files=[{"name": "c.csv", "mimeType": "text/csv",
                                         "buffer": CSV.encode()}])  # fmt: skip
    page.click("#bulk button")
    page.locator("#answer:not([hidden])").wait_for(timeout=15000)
    statuses = page.locator("#rows tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    )
    assert statuses == ["valid", "suspended", "unknown", "error", "not-yet-valid"]
    assert page.locator("tr.row-error td").last.inner_text() == "the date is not YYYY-MM-DD"
    summary = page.locator("#summary").inner_text()
    # The unknown number and the bad date are the two rows with an error.
    assert summary == "5 rows: 1 valid, 1 suspended, 1 not yet valid, 2 with an error"
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "answer.csv"
    download.value.save_as(saved)
    direct = httpx.post(site.url + "/v1/certs/bulk/verify.csv", content=CSV.encode())
    assert saved.read_text() == direct.text
    assert len(sent) == 1


@pytest.mark.browser
def test_a_file_over_the_limit_is_refused_before_sending(browser: Browser, site: Site) -> None:
    page, sent = _bulk(browser, site)
    big = b"PBOC-POS-2026-0201\n" * (MAX_CSV_BYTES // 19 + 10)
    page.set_input_files("#csv", files=[{"name": "big.csv", "mimeType": "text/csv",
                                         "buffer": big}])  # fmt: skip
    page.click("#bulk button")
    page.locator("#progress", has_text="the limit is").wait_for(timeout=5000)
    assert sent == [] and page.locator("#answer").is_hidden()


@pytest.mark.browser
def test_the_pages_read_in_chinese(browser: Browser, site: Site) -> None:
    page, _ = _bulk(browser, site, locale="zh-CN")
    assert "从 CSV 文件核验证书" in page.locator("h1").inner_text()
    page.set_input_files("#csv", files=[{"name": "c.csv", "mimeType": "text/csv",
                                         "buffer": CSV.encode()}])  # fmt: skip
    page.click("#bulk button")
    page.locator("#answer:not([hidden])").wait_for(timeout=15000)
    assert "已暂停" in page.locator("#rows").inner_text()
    assert "日期格式不是 YYYY-MM-DD" in page.locator("tr.row-error").last.inner_text()
    search = browser.new_context(locale="zh-CN").new_page()
    search.goto(site.url + "/certs/search?q=pos-maker")
    assert "服务器的答复" in search.locator("#results").inner_text()
