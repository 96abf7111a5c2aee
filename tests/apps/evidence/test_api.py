"""The public and member routes of the evidence app, through the real FastAPI app."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from apps.evidence import builders
from apps.evidence.demo import (
    AUTHOR,
    CHAPTER,
    COURT,
    INFRINGER,
    PLATFORM,
    UNRELATED,
    infringing_copy,
)
from apps.evidence.public_api import MAX_UPLOAD_BYTES
from ledger.api import create_app
from ledger.core.envelope import format_ts
from ledger.core.receipt import receipt_from_json, verify_receipt
from ledger.core.request_auth import sign_request
from tests.support.evidence import EvidenceWorld


@pytest.fixture
def api(world: EvidenceWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.node.settings, node=world.node)) as client:
        yield client


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_registration_earliest_first_each_with_a_receipt_that_verifies(
    world: EvidenceWorld, api: TestClient
) -> None:
    data = os.urandom(300)
    first = world.deposit(AUTHOR, data)
    second = world.deposit(INFRINGER, data)
    world.deposit(AUTHOR, b"something else")
    answer = api.post("/v1/evidence/verify", json={"sha256": _sha(data)})
    assert answer.status_code == 200, answer.text
    found = answer.json()["registrations"]
    assert [r["number"] for r in found] == [first, second]
    assert [r["org"] for r in found] == [AUTHOR, INFRINGER]
    trust = world.node.home.trust_policy()
    for item in found:
        verified = verify_receipt(receipt_from_json(item["receipt"]), trust, data=data)
        assert verified.index == item["index"]
    assert (
        api.post("/v1/evidence/verify", json={"sha256": _sha(data + b"!")}).json()["registrations"]
        == []
    )


def test_an_upload_is_hashed_as_it_streams_and_found(world: EvidenceWorld, api: TestClient) -> None:
    data = os.urandom(200_000)
    number = world.deposit(PLATFORM, data)
    answer = api.post(
        "/v1/evidence/verify", content=data, headers={"content-type": "application/octet-stream"}
    )
    assert answer.status_code == 200
    assert answer.json()["sha256"] == _sha(data)
    assert [r["number"] for r in answer.json()["registrations"]] == [number]


def test_the_edited_copy_finds_the_earlier_work_and_an_unrelated_text_does_not(
    world: EvidenceWorld, api: TestClient
) -> None:
    chapter = world.deposit(
        AUTHOR, CHAPTER.encode(), media_type="text/plain", category="work", title="ch. 12"
    )
    copy = infringing_copy().encode()
    answer = api.post(
        "/v1/evidence/verify", content=copy, headers={"content-type": "text/plain"}
    ).json()
    assert answer["registrations"] == []
    (similar,) = answer["similar"]
    assert similar["number"] == chapter and similar["org"] == AUTHOR
    assert similar["similarity"] >= 0.7
    unrelated = api.post(
        "/v1/evidence/verify",
        json={
            "sha256": _sha(b"x"),
            "iscc": builders.text_code_of(UNRELATED.encode(), "text/plain"),
        },
    ).json()
    assert unrelated["similar"] == []
    assert abs(len(UNRELATED) - len(CHAPTER)) < 0.2 * len(CHAPTER)


def test_bad_queries_are_problems_not_500s(api: TestClient) -> None:
    for body in ({}, {"sha256": "xyz"}, {"sha256": "a" * 64, "extra": 1}, {"iscc": "ISCC:nope"}):
        answer = api.post("/v1/evidence/verify", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "invalid-request"
    answer = api.post(
        "/v1/evidence/verify", content=b"{" * 5000, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert api.get("/v1/evidence/deposits/EV-12").status_code in (400, 404)
    missing = api.get("/v1/evidence/deposits/EV-00009999")
    assert missing.status_code == 404 and missing.json()["code"] == "not-found"


def test_an_upload_over_the_limit_is_refused_before_it_is_read_and_nothing_stays_on_disk(
    api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"  # where a spooled upload would land
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    sent = {"bytes": 0}

    def body() -> Iterator[bytes]:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(MAX_UPLOAD_BYTES // len(chunk) + 8):
            sent["bytes"] += len(chunk)
            yield chunk

    answer = api.post(
        "/v1/evidence/verify", content=body(), headers={"content-type": "application/octet-stream"}
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload-too-large"
    declared = api.post(
        "/v1/evidence/verify",
        content=b"x",
        headers={
            "content-type": "application/octet-stream",
            "content-length": str(MAX_UPLOAD_BYTES + 1),
        },
    )
    assert declared.status_code == 413
    assert list(spool.iterdir()) == []


def test_the_server_stops_reading_an_upload_once_it_is_over_the_limit(api: TestClient) -> None:
    """At the ASGI level, so we count what the server pulled, not what a client pushed."""
    chunk = b"\0" * (1024 * 1024)
    pulled = {"chunks": 0}
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        pulled["chunks"] += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled["chunks"] < 200}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/evidence/verify",
        "raw_path": b"/v1/evidence/verify",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/octet-stream"),
            (b"transfer-encoding", b"chunked"),  # a streamed upload of unknown length
            (b"host", b"test"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    asyncio.run(api.app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled["chunks"] <= MAX_UPLOAD_BYTES // len(chunk) + 1 < 200


def test_the_certificate_json_states_what_a_court_weighs(
    world: EvidenceWorld, api: TestClient
) -> None:
    number = world.deposit(
        PLATFORM,
        b"<html>copy</html>",
        media_type="text/html",
        method="web-page",
        source_url="https://site-x.example/a",
        title="captured page",
    )
    cert = api.get(f"/v1/evidence/deposits/{number}").json()
    assert cert["number"] == number
    assert cert["depositor"]["org"] == PLATFORM and cert["depositor"]["filing"]
    assert cert["hashes"]["sha256"] == _sha(b"<html>copy</html>")
    assert cert["capture"]["sourceUrl"] == "https://site-x.example/a"
    assert cert["platform"]["independent"] is True
    assert cert["ledger"]["index"] == int(number[3:])
    assert cert["ledger"]["checkpoint"] == cert["receipt"]["checkpoint"]


def _member_get(api: TestClient, world: EvidenceWorld, org: str, path: str):
    headers = sign_request(
        world.signers[org], org, "GET", path, "", b"", format_ts(datetime.now(UTC))
    )
    return api.get(path, headers=headers)


def test_a_case_is_read_only_by_its_court_and_parties(
    world: EvidenceWorld, api: TestClient
) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    world.ok(AUTHOR, builders.submit(case, number))
    path = f"/v1/evidence/cases/{case}"
    for org in (COURT, AUTHOR, INFRINGER):
        answer = _member_get(api, world, org, path)
        assert answer.status_code == 200, answer.text
        assert [e["event"] for e in answer.json()["events"]] == ["submitted"]
    outsider = _member_get(api, world, "bj-internet-court", path)
    assert outsider.status_code == 403 and outsider.json()["code"] == "forbidden"
    assert api.get(path).status_code == 401
    mine = _member_get(api, world, INFRINGER, "/v1/evidence/cases").json()["cases"]
    assert [c["case"] for c in mine] == [case]
    assert _member_get(api, world, "bj-internet-court", "/v1/evidence/cases").json()["cases"] == []


def _query() -> bytes:
    from apps.evidence.tsa_query import timestamp_query

    return timestamp_query(hashlib.sha256(os.urandom(8)).digest())


def test_the_tsa_answers_a_client_its_share_of_the_minute_then_429(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.evidence import tsa_api
    from ledger.plugin import MinuteRateLimit

    monkeypatch.setattr(tsa_api, "CLIENTS", MinuteRateLimit(2))
    headers = {"content-type": "application/timestamp-query"}
    answers = [api.post("/v1/evidence/tsa", content=_query(), headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"] == "60"
    assert answers[2].headers["content-type"] == "application/timestamp-reply"


def test_a_tsa_for_members_only_refuses_anonymous_queries(
    world: EvidenceWorld, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from apps.evidence import tsa_api

    monkeypatch.setattr(tsa_api, "SETTINGS", replace(tsa_api.SETTINGS, tsa_members_only=True))
    query = _query()
    anonymous = api.post(
        "/v1/evidence/tsa", content=query, headers={"content-type": "application/timestamp-query"}
    )
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    signed = sign_request(
        world.signers[AUTHOR], AUTHOR, "POST", "/v1/evidence/tsa", "", query,
        format_ts(datetime.now(UTC)),
    )  # fmt: skip
    member = api.post(
        "/v1/evidence/tsa",
        content=query,
        headers={**signed, "content-type": "application/timestamp-query"},
    )
    assert member.status_code == 200, member.text
