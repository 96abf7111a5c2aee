"""The /explorer page in-process, on SQLite and PostgreSQL: blocks, checkpoints and who
cosigned them, the trust policy and the members, as the server states them, in English and
Chinese, paged; a bad `before` is a 400 page. (Its in-browser check: tests/e2e.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.api import create_app
from tests.support.explorer import ExplorerLedger, explorer_ledger

BLOCKS = 24  # after genesis: 25 blocks, more than one page of the page's 20


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


def rows(html: str, table: str) -> list[str]:
    return re.findall(rf'<tr id="{table}-(\d+)"', html)


def test_the_page_shows_blocks_checkpoints_cosigners_and_members(
    api: TestClient, world: ExplorerLedger
) -> None:
    world.cosign(world.sizes[BLOCKS - 1], "gacc-shanghai", "pboc")
    world.cosign(world.sizes[BLOCKS], "bj-internet-court")
    response = api.get("/explorer")
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    html = response.text
    assert "<h1>Ledger explorer</h1>" in html
    assert rows(html, "block") == [str(h) for h in range(BLOCKS, BLOCKS - 20, -1)]
    assert rows(html, "checkpoint") == [str(world.sizes[h]) for h in range(BLOCKS, BLOCKS - 20, -1)]
    final = f'data-size="{world.sizes[BLOCKS - 1]}" data-final="true"'
    assert final + ' data-cosigners="gacc-shanghai pboc"' in html
    latest = f'data-size="{world.sizes[BLOCKS]}" data-final="false"'
    assert latest + ' data-cosigners="bj-internet-court"' in html
    assert '<li data-witness="pboc"><strong>pboc</strong>' in html
    assert "2 of 3: gacc-shanghai, bj-internet-court, pboc" in html
    # the members, their roles and filing numbers
    assert 'data-org="sample-writer"' in html and "京网信备11010819129999号" in html
    assert "<code>sample.writer</code>" in html and "GACC Shanghai port inspection" in html
    writer = html[html.index('<tr data-org="sample-writer"') :]
    assert writer[: writer.index("</tr>")].rstrip().endswith("<td>1</td>")  # one active key
    # headers only
    assert not any(tx_id in html for tx_id in world.tx_ids)
    assert 'id="older" href="/explorer?before=5"' in html
    assert 'id="explorer-data"' in html and "/static/ledger/explorer.js" in html


def test_an_uncounted_cosignature_is_said_so(api: TestClient, world: ExplorerLedger) -> None:
    world.cosign_as_stranger(world.sizes[BLOCKS])
    html = api.get("/explorer").text
    assert "1 cosignature does not verify with the trust policy and is not counted." in html


def test_older_pages_link_back_to_newer_ones(api: TestClient) -> None:
    html = api.get("/explorer?before=5").text
    assert rows(html, "block") == ["4", "3", "2", "1", "0"]
    assert 'id="older"' not in html
    assert 'id="newer" href="/explorer?before=25"' not in html  # 25 > head: the latest page
    assert 'id="newer" href="/explorer"' in html
    assert "none: the genesis block" in html
    assert 'href="/explorer?before=1#block-0"' not in html  # block 0 is on this page
    assert 'class="prev" href="#block-0"' in html
    top = api.get("/explorer?before=21").text
    assert 'class="prev" href="/explorer?before=1#block-0"' in top
    assert 'id="newer" href="/explorer"' in top


def test_the_page_reads_in_chinese(api: TestClient) -> None:
    html = api.get("/explorer", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="zh-CN">' in html
    assert "账本浏览器" in html and "检查点与联署" in html and "备案编号" in html
    assert "3 个中的 2 个" in html  # the quorum in words


@pytest.mark.parametrize("before", ["abc", "-1", "1e3", "9007199254740993", "１２"])
def test_a_bad_before_is_a_400_page(api: TestClient, before: str) -> None:
    response = api.get("/explorer", params={"before": before})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "must be a block height" in response.text
    chinese = api.get("/explorer", params={"before": before, "lang": "zh-CN"})
    assert chinese.status_code == 400 and "区块高度" in chinese.text


def test_the_form_is_filled_from_the_query(api: TestClient, world: ExplorerLedger) -> None:
    html = api.get("/explorer?first=3&second=nonsense").text
    assert 'id="first" name="first"' in html and 'value="3"' in html
    assert f'value="{world.sizes[-1]}"' in html  # the second defaults to the latest size
