"""The explorer in Chromium against a real `sealchain serve`: the cosigners named by the trust
policy, and the consistency check run in the browser: verified for two genuine checkpoints,
NOT VERIFIED with a reason when a checkpoint's root, the log's signature, a witness's
cosignature or the consistency proof it reads is altered on the way."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.support.browser import chromium
from tests.support.explorer import explorer_ledger, flip_base64_char
from tests.support.server import running_server

pytestmark = pytest.mark.browser
DONE = "#consistency-verdict[data-verdict=verified], #consistency-verdict[data-verdict=failed]"


@dataclass
class Site:
    url: str
    sizes: list[int]  # checkpoint size of each block, by height

    @property
    def final(self) -> int:  # cosigned by gacc-shanghai and pboc: 2 of 3
        return self.sizes[3]

    @property
    def latest(self) -> int:  # cosigned by bj-internet-court only: not final
        return self.sizes[-1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("explorer") / "home"
    world = explorer_ledger(home)
    world.add_blocks(8, per_block=3)
    world.cosign(world.sizes[3], "gacc-shanghai", "pboc")
    world.cosign(world.sizes[-1], "bj-internet-court")
    world.cosign(world.sizes[1], *("gacc-shanghai", "bj-internet-court", "pboc"))
    sizes = world.sizes
    world.close()
    with running_server(home) as url:
        yield Site(url, sizes)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _open(
    browser: Browser,
    url: str,
    *,
    locale: str = "en-US",
    intercept: tuple[str, Callable[[Route], None]] | None = None,
) -> Page:
    page = browser.new_context(locale=locale).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    if intercept is not None:
        page.route(*intercept)
    page.goto(url)
    if "first=" in url:
        page.locator(DONE).wait_for(timeout=15000)
    assert errors == []
    return page


def _check(browser: Browser, site: Site, first: int, second: int, **kw) -> Page:
    return _open(browser, f"{site.url}/explorer?first={first}&second={second}", **kw)


def _verdict(page: Page) -> tuple[str | None, str]:
    verdict = page.locator("#consistency-verdict")
    return verdict.get_attribute("data-verdict"), verdict.inner_text()


def _facts(page: Page) -> dict:
    return json.loads(page.evaluate("JSON.stringify(globalThis.sealchain.consistency)"))


def _altered_note(change: Callable[[list[str]], None]) -> Callable[[Route], None]:
    """A route handler serving the checkpoint note with `change` applied to its lines."""

    def handler(route: Route) -> None:
        lines = route.fetch().text().split("\n")
        change(lines)
        route.fulfill(body="\n".join(lines), content_type="text/plain; charset=utf-8")

    return handler


def _checkpoint_url(size: int) -> Callable[[str], bool]:
    def matches(url: str) -> bool:
        parts = urlsplit(url)
        return parts.path == "/v1/checkpoint" and parse_qs(parts.query).get("size") == [str(size)]

    return matches


# --- what the server states ----------------------------------------------------------------------


def test_the_page_names_the_witnesses_who_cosigned(browser: Browser, site: Site) -> None:
    page = _open(browser, f"{site.url}/explorer")
    final = page.locator(f"#checkpoint-{site.final}")
    assert final.get_attribute("data-final") == "true"
    assert final.locator("li[data-witness]").all_inner_texts()[0].startswith("gacc-shanghai")
    assert [li.get_attribute("data-witness") for li in final.locator("li[data-witness]").all()] == [
        "gacc-shanghai",
        "pboc",
    ]
    latest = page.locator(f"#checkpoint-{site.latest}")
    assert latest.get_attribute("data-final") == "false"
    assert latest.locator("li[data-witness]").inner_text().startswith("bj-internet-court")
    assert "not final" in latest.inner_text()
    assert page.locator("#witnesses tr[data-witness=pboc]").inner_text().endswith(str(site.final))
    heights = page.locator("#blocks tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.hash, r.dataset.prev])"
    )
    assert len(heights) == len(site.sizes)
    for (_, prev), (older_hash, _) in itertools.pairwise(heights):
        assert prev == older_hash
    assert (
        page.locator("#members tr[data-org=sample-writer] .filing")
        .inner_text()
        .startswith("京网信备")
    )
    assert page.locator("#consistency-verdict").is_hidden()  # nothing checked until asked


# --- the check in the browser --------------------------------------------------------------------


def test_two_genuine_checkpoints_verify_in_the_browser(browser: Browser, site: Site) -> None:
    page = _check(browser, site, site.final, site.latest)
    state, text = _verdict(page)
    assert state == "verified", text
    assert f"checkpoint {site.latest} holds the first {site.final} entries" in text
    steps = page.locator("#consistency-steps li")
    assert steps.count() == 3
    assert [steps.nth(i).get_attribute("data-ok") for i in range(3)] == ["true"] * 3
    assert "Cosigned by 2 witnesses: gacc-shanghai, pboc." in steps.nth(0).inner_text()
    assert "Final: its cosigners meet" in steps.nth(0).inner_text()
    assert "Cosigned by 1 witness: bj-internet-court." in steps.nth(1).inner_text()
    assert "Not final yet" in steps.nth(1).inner_text()
    facts = _facts(page)
    assert facts["ok"] is True
    assert facts["earlier"]["cosigners"] == ["gacc-shanghai", "pboc"]
    assert facts["earlier"]["final"] is True and facts["later"]["final"] is False
    assert facts["later"]["size"] == site.latest and facts["proofLength"] > 0


def test_the_form_checks_sizes_given_in_either_order(browser: Browser, site: Site) -> None:
    page = _open(browser, f"{site.url}/explorer")
    page.fill("#first", str(site.latest))
    page.fill("#second", str(site.sizes[1]))
    page.click("#consistency-form button")
    page.locator(DONE).wait_for(timeout=15000)
    state, text = _verdict(page)
    assert state == "verified", text
    facts = _facts(page)
    assert (facts["first"], facts["second"]) == (site.sizes[1], site.latest)
    assert facts["earlier"]["cosigners"] == ["bj-internet-court", "gacc-shanghai", "pboc"]
    assert f"first={site.sizes[1]}" in page.url and f"second={site.latest}" in page.url


def test_the_same_checkpoint_twice_verifies(browser: Browser, site: Site) -> None:
    page = _check(browser, site, site.final, site.final)
    assert _verdict(page)[0] == "verified"
    assert _facts(page)["proofLength"] == 0


def test_an_altered_root_fails(browser: Browser, site: Site) -> None:
    handler = _altered_note(lambda lines: lines.__setitem__(2, flip_base64_char(lines[2], 0)))
    page = _check(
        browser, site, site.final, site.latest, intercept=(_checkpoint_url(site.final), handler)
    )
    state, text = _verdict(page)
    assert state == "failed"
    assert text.startswith("NOT VERIFIED: ")
    assert f"checkpoint {site.final}: the signature of sealchain.demo/log" in text
    assert "does not verify" in text
    assert _facts(page)["step"] == 1
    assert page.locator("#consistency-steps li[data-ok=false]").count() == 1


def test_an_altered_log_signature_fails(browser: Browser, site: Site) -> None:
    def change(lines: list[str]) -> None:
        at = next(i for i, line in enumerate(lines) if line.startswith("— sealchain.demo/log "))
        lines[at] = flip_base64_char(lines[at], len(lines[at]) - 20)

    page = _check(
        browser,
        site,
        site.final,
        site.latest,
        intercept=(_checkpoint_url(site.latest), _altered_note(change)),
    )
    state, text = _verdict(page)
    assert state == "failed"
    assert f"checkpoint {site.latest}: the signature of sealchain.demo/log" in text
    assert _facts(page)["step"] == 2
    assert page.locator("#consistency-steps li[data-ok=true]").count() == 1  # the first held


def test_an_altered_cosignature_fails(browser: Browser, site: Site) -> None:
    def change(lines: list[str]) -> None:
        at = next(i for i, line in enumerate(lines) if "/witness/pboc " in line)
        lines[at] = flip_base64_char(lines[at], len(lines[at]) - 20)

    page = _check(
        browser,
        site,
        site.final,
        site.latest,
        intercept=(_checkpoint_url(site.final), _altered_note(change)),
    )
    state, text = _verdict(page)
    assert state == "failed"
    assert "the signature of sealchain.demo/witness/pboc on the checkpoint does not verify" in text


def test_an_altered_consistency_proof_fails(browser: Browser, site: Site) -> None:
    def handler(route: Route) -> None:
        answer = route.fetch().json()
        answer["proof"][0] = flip_base64_char(answer["proof"][0], 0)
        route.fulfill(body=json.dumps(answer), content_type="application/json")

    page = _check(
        browser, site, site.final, site.latest, intercept=("**/v1/proofs/consistency?*", handler)
    )
    state, text = _verdict(page)
    assert state == "failed"
    assert re.search(r"the consistency proof does not lead to the (first|second) root", text)
    assert _facts(page)["step"] == 3


def test_a_checkpoint_of_another_size_fails(browser: Browser, site: Site) -> None:
    # The server answers the question it was not asked: a genuine checkpoint, of another size.
    def handler(route: Route) -> None:
        response = route.fetch(url=route.request.url.replace(f"size={site.final}", "size=1"))
        route.fulfill(response=response)

    page = _check(
        browser,
        site,
        site.final,
        site.latest,
        intercept=(_checkpoint_url(site.final), handler),
    )
    state, text = _verdict(page)
    assert state == "failed"
    assert "the server sent the checkpoint of size 1 instead" in text


def test_a_size_with_no_checkpoint_fails_with_a_reason(browser: Browser, site: Site) -> None:
    missing = site.sizes[2] + 1  # inside a block: no checkpoint has that size
    page = _check(browser, site, missing, site.latest)
    state, text = _verdict(page)
    assert state == "failed"
    assert f"the server has no checkpoint of size {missing}" in text


def test_the_check_reads_in_chinese(browser: Browser, site: Site) -> None:
    page = _check(browser, site, site.final, site.latest, locale="zh-CN")
    state, text = _verdict(page)
    assert state == "verified"
    assert text.startswith("已在您的浏览器中验证")
    assert (
        "已由 2 个见证节点联署：gacc-shanghai, pboc。"
        in page.locator("#consistency-steps").inner_text()
    )
    assert "账本浏览器" in page.locator("h1").inner_text()
    handler = _altered_note(lambda lines: lines.__setitem__(2, flip_base64_char(lines[2], 0)))
    failed = _check(
        browser,
        site,
        site.final,
        site.latest,
        locale="zh-CN",
        intercept=(_checkpoint_url(site.final), handler),
    )
    state, text = _verdict(failed)
    assert state == "failed"
    assert f"检查点 {site.final}：" in text and "未通过验证" in text
