"""The certificate page in Chromium: the status computed in the browser from the signed entries
(valid, suspended, revoked, expired), a failure when the proof data is altered, Chinese and
English, and the page's status.js agreeing with status.py on random histories."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import create_engine, update

from apps.certs import builders
from apps.certs.status import Event, status_on
from apps.certs.tables import certificates
from tests.support.browser import change_first_proof_hash, chromium
from tests.support.certs import REPORT_SHA256, certs_world
from tests.support.server import running_server

pytestmark = pytest.mark.browser
TODAY = datetime.now(UTC).date()


@dataclass
class Site:
    url: str
    numbers: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("certs-pages") / "home"
    world = certs_world(home)
    current = {"valid_from": TODAY - timedelta(days=60), "valid_until": TODAY + timedelta(days=600)}
    numbers = {
        "valid": world.certify(number="PBOC-POS-2026-0001", **current),
        "suspended": world.certify(number="PBOC-POS-2026-0002", **current),
        "revoked": world.certify(number="PBOC-POS-2026-0003", **current),
        "expired": world.certify(number="PBOC-POS-2019-0001"),
        "changed": world.certify(number="PBOC-POS-2026-0004", **current),
        "forged": world.certify(number="PBOC-POS-2026-0005", **current),
    }
    # An application for another model, tested and passed, that no certificate answers: what
    # an operator could point a certificate's projection row at.
    other = world.credential(number="PBOC-POS-2026-0006", model="SP-900", **current)
    world.ok("pos-maker", builders.application_for("APP-OTHER", TODAY - timedelta(days=90), other))
    world.ok("lab-one", builders.lab_report("APP-OTHER", TODAY - timedelta(days=80), "pass",
                                            "ef" * 32, "Other report"))  # fmt: skip
    world.ok("nfcc", builders.change(numbers["changed"], TODAY - timedelta(days=3),
                                     "firmware update", version="1.2"))  # fmt: skip
    world.node.close()
    with create_engine(world.node.settings.db_url()).begin() as conn:
        done = conn.execute(
            update(certificates)
            .where(certificates.c.number == numbers["forged"])
            .values(application="APP-OTHER")
        )
        assert done.rowcount == 1
    yesterday = TODAY - timedelta(days=1)
    world.ok("nfcc", builders.surveil(numbers["valid"], yesterday - timedelta(days=5), "pass"))
    world.ok("nfcc", builders.suspend(numbers["suspended"], yesterday, "surveillance failed"))
    world.ok("nfcc", builders.revoke(numbers["revoked"], yesterday, "fraudulent test report"))
    with running_server(home) as url:
        yield Site(url, numbers)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _open(browser: Browser, url: str, locale: str = "en-US", tamper: bool = False) -> Page:
    page = browser.new_context(locale=locale).new_page()
    if tamper:
        page.route(url, change_first_proof_hash)
    page.goto(url)
    page.locator("#verdict:not([data-verdict=pending])").wait_for(timeout=15000)
    return page


@pytest.mark.parametrize("status", ["valid", "suspended", "revoked", "expired"])
def test_the_page_shows_the_status_computed_in_the_browser(
    browser: Browser, site: Site, status: str
) -> None:
    page = _open(browser, f"{site.url}/certs/{site.numbers[status]}")
    assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
    assert page.locator("#status").get_attribute("data-status") == status
    assert "SmartPOS" in page.locator("#verified").inner_text()
    assert page.locator(".qr svg").count() == 1


def test_the_application_lab_tests_and_changes_are_shown(browser: Browser, site: Site) -> None:
    page = _open(browser, f"{site.url}/certs/{site.numbers['changed']}")
    assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
    tests = page.locator("#lab-reports li")
    assert tests.count() == 1 and tests.first.get_attribute("data-result") == "pass"
    assert REPORT_SHA256 in tests.first.inner_text()
    assert "Accredited test lab one" in tests.first.inner_text()
    change = page.locator("#history li[data-kind=change]")
    assert "version 1.2: firmware update" in change.inner_text()
    assert page.locator("#status").get_attribute("data-status") == "valid"
    facts = page.locator("#facts").inner_text()
    assert "APP-PBOC-POS-2026-0004" in facts


def test_an_application_of_another_product_fails_the_verdict(browser: Browser, site: Site) -> None:
    # The operator points the certificate at another product's passed application: the
    # entries are all genuine, but the browser binds the application to the credential.
    page = _open(browser, f"{site.url}/certs/{site.numbers['forged']}")
    assert page.locator("#verdict").get_attribute("data-verdict") == "failed"
    assert "application" in page.locator("#verdict").inner_text()
    assert page.locator("#verified").is_hidden()


def test_altered_proof_data_fails(browser: Browser, site: Site) -> None:
    page = _open(browser, f"{site.url}/certs/{site.numbers['valid']}", tamper=True)
    assert page.locator("#verdict").get_attribute("data-verdict") == "failed"
    assert page.locator("#verified").is_hidden()


def test_the_page_reads_in_chinese(browser: Browser, site: Site) -> None:
    page = _open(browser, f"{site.url}/certs/{site.numbers['suspended']}", locale="zh-CN")
    assert "已暂停" in page.locator("#status").inner_text()
    assert "认证机构" in page.locator("#verified").inner_text()


def test_an_unknown_number_is_a_404_page(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    answer = page.goto(f"{site.url}/certs/PBOC-NONE-0001")
    assert answer is not None and answer.status == 404
    assert "No such certificate" in page.locator("#status").inner_text()


def test_status_js_agrees_with_status_py(browser: Browser, site: Site) -> None:
    rng = random.Random(7)
    start, end = date(2019, 11, 15), date(2022, 11, 14)
    cases = []
    for _ in range(300):
        days = sorted(
            start + timedelta(days=rng.randrange(0, 1200)) for _ in range(rng.randrange(0, 5))
        )
        kinds = [
            rng.choice(["surveil-pass", "surveil-fail", "suspend", "reinstate", "revoke", "change"])
            for _ in days
        ]
        events = [Event(k, d, i) for i, (k, d) in enumerate(zip(kinds, days, strict=True))]
        probe = start + timedelta(days=rng.randrange(-30, 1300))
        expected = status_on(probe, start, end, 0, events)
        since = None if expected.since is None else expected.since.isoformat()
        listed = [{"kind": e.kind, "day": e.day.isoformat(), "index": e.index} for e in events]
        cases.append(
            {"day": probe.isoformat(), "events": listed, "expected": [expected.status, since]}
        )
    page = _open(browser, f"{site.url}/certs/{site.numbers['valid']}")
    answers = page.evaluate(
        """async (cases) => {
            const m = await import("/static/certs/status.js");
            return cases.map((c) => {
                const found = m.statusOn(c.day, "2019-11-15", "2022-11-14", c.events);
                return [found.status, found.since];
            });
        }""",
        cases,
    )
    assert answers == [c["expected"] for c in cases]
