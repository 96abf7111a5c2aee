"""/metrics answers only the operator's addresses (SEALCHAIN_METRICS_ALLOW, loopback by default);
anyone else gets the 404 a path without a route gets, so the route is not advertised."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from ledger.api.app import create_app
from ledger.config import Settings
from tests.support.ledgers import LedgerFixture, make_ledger

PROBLEM = "application/problem+json"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[LedgerFixture]:
    """SQLite only: who may read /metrics does not depend on the database."""
    built = make_ledger(tmp_path / "home", None)
    yield built
    built.close()


@contextmanager
def client_from(
    ledger: LedgerFixture, address: str, allow: str | None = None
) -> Iterator[TestClient]:
    if allow is not None:  # kept for the rest of the test, as a restart with the setting would
        ledger.node.settings = ledger.node.settings.model_copy(update={"metrics_allow": allow})
    app = create_app(ledger.settings, node=ledger.node)
    with TestClient(app, client=(address, 50000)) as client:
        yield client


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_metrics_answer_a_scraper_on_the_same_machine(ledger: LedgerFixture, address: str) -> None:
    with client_from(ledger, address) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert "sealchain_entries_committed_total" in answer.text


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.1", "::2", "testclient"])
def test_metrics_are_not_found_by_anyone_else(ledger: LedgerFixture, address: str) -> None:
    with client_from(ledger, address) as client:
        for method in (client.get, client.head):
            answer = method("/metrics")
            assert answer.status_code == 404
            assert answer.headers["content-type"] == PROBLEM
        body = client.get("/metrics").json()
        unrouted = client.get("/no-such-route").json()
    assert body["code"] == "not-found"
    assert "sealchain_" not in str(body)
    # the same answer as for a path that has no route: nothing says that /metrics exists
    assert {k: v for k, v in body.items() if k not in ("instance", "request_id", "detail")} == {
        k: v for k, v in unrouted.items() if k not in ("instance", "request_id", "detail")
    }
    assert body["detail"] == unrouted["detail"].replace("/no-such-route", "/metrics")


def test_metrics_answer_an_allowed_network_and_only_it(ledger: LedgerFixture) -> None:
    with client_from(ledger, "203.0.113.9", allow="203.0.113.0/28, 2001:db8::/32") as client:
        assert client.get("/metrics").status_code == 200
    with client_from(ledger, "203.0.113.16") as client:  # just outside the /28
        assert client.get("/metrics").status_code == 404
    with client_from(ledger, "127.0.0.1") as client:  # loopback is no longer listed
        assert client.get("/metrics").status_code == 404


def test_an_empty_metrics_allow_lets_nobody_read_them(ledger: LedgerFixture) -> None:
    with client_from(ledger, "127.0.0.1", allow="") as client:
        assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("value", ["10.0.0.1/8", "10.0.0.0/33", "localhost", "127.0.0.1;::1"])
def test_a_metrics_allow_that_is_not_a_network_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="metrics_allow"):
        Settings(metrics_allow=value)
    monkeypatch.setenv("SEALCHAIN_METRICS_ALLOW", value)  # as the server reads it at startup
    with pytest.raises(ValidationError, match="is not an IP address or CIDR network"):
        Settings()
