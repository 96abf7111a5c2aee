"""An app's pages are mounted at the site root and tried before the log's reads, so each page path
must start with a fixed segment the ledger itself does not use: otherwise the app could answer
for /checkpoint, a tile or the API, and the order of routers would decide who answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from ledger.api.app import create_app
from ledger.errors import ConfigError
from ledger.service.app import App
from tests.support.ledgers import LedgerFixture, make_ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[LedgerFixture]:
    """SQLite only: which routes an app may add does not depend on the database."""
    built = make_ledger(tmp_path / "home", None)
    yield built
    built.close()


def _app_with_page(path: str) -> App:
    router = APIRouter()

    @router.get(path)
    def page() -> dict[str, str]:
        return {"page": "shop"}

    return App(name="shop", record_types=[], pages=[router])


@pytest.mark.parametrize(
    "path",
    [
        "/{code}",  # a parameter first: any path at all
        "/{code}/info",
        "/x{code}",  # a segment holding a parameter
        "/checkpoint",  # the log's signed checkpoint
        "/tile/{rest:path}",
        "/v1/shop/page",  # the API's prefix
        "/healthz",
        "/openapi.json",
        "/docs",
        "/static/shop/logo.png",
    ],
)
def test_a_page_path_the_ledger_uses_is_refused(
    ledger: LedgerFixture, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = ledger.node.registry.apps
    monkeypatch.setattr(ledger.node.registry, "apps", [*apps, _app_with_page(path)])
    with pytest.raises(ConfigError, match=r"app 'shop': page path .* must start with a fixed"):
        create_app(ledger.settings, node=ledger.node)


def test_a_page_under_its_own_segment_is_served_and_the_log_still_answers(
    ledger: LedgerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.fill(3, per_block=3)
    apps = ledger.node.registry.apps
    monkeypatch.setattr(ledger.node.registry, "apps", [*apps, _app_with_page("/shop/{item}")])
    with TestClient(create_app(ledger.settings, node=ledger.node)) as client:
        assert client.get("/shop/beef").json() == {"page": "shop"}
        assert client.get("/checkpoint").text.count("\n") >= 3  # origin, size, root, ...
        assert client.get("/v1/checkpoint").status_code == 200
        assert client.get("/shopping").status_code == 404
