"""The certs routes through the real FastAPI app: status on any date with receipts that verify,
status lists whose bits are the ledger's states, search, and bulk CSV verification."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from apps.certs import builders, statuslist
from apps.certs.credentials import verify_credential
from ledger.api import create_app
from ledger.core.receipt import receipt_from_json, verify_receipt
from tests.support.certs import CertsWorld

TODAY = datetime.now(UTC).date()


@pytest.fixture
def api(world: CertsWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.node.settings, node=world.node)) as client:
        yield client


def _current(world: CertsWorld, number: str, index: int) -> str:
    """A certificate valid today (the demo's 2019 ones have expired)."""
    return world.certify(number=number, status_index=index, valid_from=TODAY - timedelta(days=30),
                         valid_until=TODAY + timedelta(days=700))  # fmt: skip


def test_status_on_any_date_rests_on_receipts_that_verify(
    world: CertsWorld, api: TestClient
) -> None:
    number = world.certify()
    world.ok("nfcc", builders.suspend(number, date(2021, 3, 1), "surveillance failed"))
    world.ok("nfcc", builders.reinstate(number, date(2021, 4, 10)))
    trust = world.node.home.trust_policy()
    expected = {
        "2019-11-14": "not-yet-valid", "2019-11-15": "valid", "2021-03-01": "suspended",
        "2021-04-09": "suspended", "2021-04-10": "valid", "2022-11-14": "valid",
        "2022-11-15": "expired",
    }  # fmt: skip
    for day, status in expected.items():
        answer = api.get(f"/v1/certs/{number}/status", params={"at": day}).json()
        assert answer["status"] == status, (day, answer)
        for receipt in answer["receipts"]:
            verify_receipt(receipt_from_json(receipt), trust)
    assert (
        len(api.get(f"/v1/certs/{number}/status", params={"at": "2021-03-01"}).json()["receipts"])
        == 2
    )
    assert api.get(f"/v1/certs/{number}/status", params={"at": "2021-13-01"}).status_code in (
        400,
        422,
    )
    assert api.get("/v1/certs/PBOC-NONE-0001/status").json()["code"] == "not-found"


def test_the_certificate_carries_its_credential(world: CertsWorld, api: TestClient) -> None:
    number = world.certify()
    answer = api.get(f"/v1/certs/{number}").json()
    verify_credential(answer["credential"])
    assert answer["credential"]["credentialSubject"]["certificateNumber"] == number


def test_status_list_bits_equal_the_ledgers_states(world: CertsWorld, api: TestClient) -> None:
    valid = _current(world, "PBOC-POS-2026-0001", 3)
    suspended = _current(world, "PBOC-POS-2026-0002", 4)
    revoked = _current(world, "PBOC-POS-2026-0003", 5)
    world.ok("nfcc", builders.suspend(suspended, TODAY - timedelta(days=1), "failed"))
    world.ok("nfcc", builders.revoke(revoked, TODAY - timedelta(days=1), "fraud"))
    lists = {}
    for purpose in ("revocation", "suspension"):
        credential = api.get(f"/v1/certs/status-lists/nfcc/{purpose}").json()
        key = verify_credential(credential)  # signed by the body's key
        assert key == world.signers["nfcc"].verifier.public_key
        lists[purpose] = statuslist.decode(credential["credentialSubject"]["encodedList"])
    bits = {n: (statuslist.bit(lists["revocation"], i), statuslist.bit(lists["suspension"], i))
            for n, i in ((valid, 3), (suspended, 4), (revoked, 5))}  # fmt: skip
    assert bits == {valid: (False, False), suspended: (False, True), revoked: (True, False)}
    assert api.get("/v1/certs/status-lists/lab-one/revocation").status_code == 404


def test_search_finds_by_manufacturer_model_or_type(world: CertsWorld, api: TestClient) -> None:
    number = world.certify()
    for q in ("pos-maker", "SP-100", "pos", "smartpos"):
        found = api.get("/v1/certs/search", params={"q": q}).json()["certificates"]
        assert [c["number"] for c in found] == [number], q
    assert api.get("/v1/certs/search", params={"q": "nothing-like-it"}).json()["certificates"] == []


def test_bulk_csv_answers_every_row_and_errors_per_row(world: CertsWorld, api: TestClient) -> None:
    number = world.certify()
    world.ok("nfcc", builders.revoke(number, date(2021, 1, 1), "fraud"))
    lines = ["number,date", f"{number},2020-01-01", f"{number},2021-06-01", f"{number},not-a-date",
             "PBOC-NONE-0001,2020-01-01"]  # fmt: skip
    lines += [f"{number},2020-02-{1 + n % 28:02d}" for n in range(10_000)]
    answer = api.post("/v1/certs/bulk/verify.csv", content="\n".join(lines).encode(),
                      headers={"content-type": "text/csv"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 10_004
    assert [r["status"] for r in rows[:4]] == ["valid", "revoked", "", "unknown"]
    assert rows[2]["error"] == "the date is not YYYY-MM-DD"
    assert all(r["status"] == "valid" for r in rows[4:])
    bad = api.post(
        "/v1/certs/bulk/verify.csv", content=b"\xff\xfe", headers={"content-type": "text/csv"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid-request"
