"""The HTTP API in-process (TestClient) on SQLite and PostgreSQL: every route, every problem."""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.api import create_app
from ledger.api.app import app_from_env
from ledger.config import Settings
from ledger.core import merkle
from ledger.core.envelope import format_ts, new_nonce, sign_envelope
from ledger.core.keys import Signer
from ledger.core.note import parse_checkpoint, parse_note
from ledger.core.receipt import load_receipt, receipt_from_json, verify_receipt
from ledger.core.request_auth import sign_request
from ledger.errors import all_error_types
from tests.support.ledgers import LedgerFixture

PROBLEM = "application/problem+json"


@pytest.fixture
def api(ledger: LedgerFixture) -> Iterator[TestClient]:
    app = create_app(ledger.settings, node=ledger.node)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:  # /metrics answers loopback
        yield client


def size(api: TestClient) -> int:
    return int(api.get("/healthz").json()["size"])


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code
    assert body["type"] == f"https://sealchain.dev/problems/{code}"
    assert body["status"] == status
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


def signed_get(api: TestClient, signer: Signer, org: str, path: str, query: str = "", **kw):
    headers = sign_request(signer, org, "GET", path, query, b"", format_ts(datetime.now(UTC)))
    headers.update(kw.pop("headers", {}))
    return api.get(path + ("?" + query if query else ""), headers=headers)


# --- submitting -----------------------------------------------------------------------------------


def test_submit_answers_201_with_a_receipt_that_verifies(
    api: TestClient, ledger: LedgerFixture
) -> None:
    env = ledger.sign("writer-a", "sample.note", {"text": "hello"})
    response = api.post("/v1/entries", content=env.raw)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/receipts/{env.tx_id}"
    receipt = receipt_from_json(response.json())
    assert receipt.index == 1
    ledger.node.write_members_file()
    verify_receipt(receipt, ledger.node.home.trust_policy())


def test_same_envelope_twice_gets_the_original_receipt(
    api: TestClient, ledger: LedgerFixture
) -> None:
    env = ledger.sign("writer-a", "sample.note", {"text": "once"})
    first = api.post("/v1/entries", content=env.raw)
    again = api.post("/v1/entries", content=env.raw)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["sealchain-duplicate"] == "true"
    assert again.json()["index"] == first.json()["index"]
    assert size(api) == 2


@pytest.mark.parametrize(
    ("flag", "status"), [("0", 202), ("off", 202), ("n", 202), ("TRUE", 201), ("1", 201)]
)
def test_wait_flag_accepts_the_usual_spellings(
    api: TestClient, ledger: LedgerFixture, flag: str, status: int
) -> None:
    env = ledger.sign("writer-a", "sample.note", {"text": f"flag {flag}"})
    assert api.post(f"/v1/entries?wait={flag}", content=env.raw).status_code == status


def test_wait_flag_that_is_not_a_boolean_is_refused_and_nothing_is_queued(
    api: TestClient, ledger: LedgerFixture
) -> None:
    before = size(api)
    env = ledger.sign("writer-a", "sample.note", {"text": "maybe"})
    response = api.post("/v1/entries?wait=maybe", content=env.raw)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-request"
    assert "wait" in response.json()["detail"]
    assert size(api) == before
    assert api.get(f"/v1/receipts/{env.tx_id}").status_code == 404


def test_resubmission_gets_its_receipt_after_its_key_was_revoked_and_its_time_passed(
    api: TestClient, ledger: LedgerFixture
) -> None:
    env = ledger.sign("writer-b", "sample.note", {"text": "before the revocation"})
    first = api.post("/v1/entries", content=env.raw)
    assert first.status_code == 201
    key = ledger.signers["writer-b"].key_id_hex
    revoke = ledger.sign("admin", "ledger.key.revoke", {"org": "writer-b", "key": key})
    assert api.post("/v1/entries", content=revoke.raw).status_code == 201
    validator = ledger.sequencer.validator
    real_clock = validator.clock
    validator.clock = lambda: real_clock() + timedelta(hours=1)  # its ts is now stale too
    try:
        before = size(api)
        for path in ("/v1/entries", "/v1/entries?wait=false"):
            again = api.post(path, content=env.raw)
            assert again.status_code == 200, again.text
            assert again.headers["sealchain-duplicate"] == "true"
            # the same entry at the same index, proved against the latest checkpoint
            assert (again.json()["entry"], again.json()["index"]) == (
                first.json()["entry"],
                first.json()["index"],
            )
        batch = api.post("/v1/entries/batch", content=b"[" + env.raw + b"]").json()
        assert batch["items"][0]["status"] == 200
        assert batch["items"][0]["index"] == first.json()["index"]
        assert size(api) == before
    finally:
        validator.clock = real_clock


def test_resubmission_within_one_batch_and_across_batches_is_one_entry(
    api: TestClient, ledger: LedgerFixture
) -> None:
    env = ledger.sign("writer-a", "sample.note", {"text": "twice in a batch"})
    before = size(api)
    first = api.post("/v1/entries/batch", content=b"[" + env.raw + b"," + env.raw + b"]")
    statuses = [item["status"] for item in first.json()["items"]]
    assert statuses == [201, 200], statuses  # the second is answered with the first's entry
    again = api.post("/v1/entries/batch", content=b"[" + env.raw + b"]").json()["items"][0]
    assert again["status"] == 200
    assert again["index"] == first.json()["items"][0]["index"]
    assert size(api) == before + 1


def test_submit_without_waiting_answers_202_then_the_receipt_appears(
    api: TestClient, ledger: LedgerFixture
) -> None:
    env = ledger.sign("writer-a", "sample.note", {"text": "later"})
    response = api.post("/v1/entries?wait=false", content=env.raw)
    assert response.status_code == 202
    assert response.json() == {
        "tx_id": env.tx_id,
        "status": "queued",
        "receipt_url": f"/v1/receipts/{env.tx_id}",
    }
    for _ in range(200):
        receipt = api.get(response.json()["receipt_url"])
        if receipt.status_code == 200:
            break
        time.sleep(0.02)
    assert receipt.status_code == 200
    assert receipt.json()["index"] == 1


def test_an_entry_answered_202_that_is_refused_in_its_block_is_logged(
    api: TestClient, ledger: LedgerFixture, caplog: pytest.LogCaptureFixture
) -> None:
    # The same nonce twice: both pass the prechecks, the block refuses the second (step 6).
    first = ledger.sign("writer-a", "sample.note", {"text": "one"}, nonce="c" * 32)
    second = ledger.sign("writer-a", "sample.note", {"text": "two"}, nonce="c" * 32)
    with caplog.at_level(logging.ERROR, logger="sealchain.api"):
        for env in (first, second):
            assert api.post("/v1/entries?wait=false", content=env.raw).status_code == 202
        for _ in range(200):
            if any(second.tx_id in r.getMessage() for r in caplog.records):
                break
            time.sleep(0.02)
    assert api.get(f"/v1/receipts/{first.tx_id}").status_code == 200
    assert api.get(f"/v1/receipts/{second.tx_id}").status_code == 404
    (logged,) = [r.getMessage() for r in caplog.records if "was not sequenced" in r.getMessage()]
    assert second.tx_id in logged and "nonce" in logged


def problem_cases(ledger: LedgerFixture) -> list[tuple[str, bytes, int, str]]:
    ghost = Signer.generate("sealchain.test/org/ghost")
    good = ledger.sign("writer-a", "sample.note", {"text": "x"}).as_dict()
    tampered = {**good, "body": {"text": "y"}}
    stale = format_ts(datetime.now(UTC) - timedelta(hours=1))
    return [
        ("malformed-json", b'{"v":1,"v":1}', 400, "malformed-json"),
        ("not-json", b"\xff\xfe", 400, "malformed-json"),
        ("invalid-envelope", json.dumps({**good, "extra": 1}).encode(), 400, "invalid-envelope"),
        (
            "unknown-org",
            sign_envelope(ghost, type="sample.note", org="ghost", body={"text": "x"}).raw,
            403,
            "unknown-org",
        ),
        (
            "unknown-key",
            sign_envelope(
                ledger.signers["writer-b"], type="sample.note", org="writer-a", body={"text": "x"}
            ).raw,
            403,
            "unknown-key",
        ),
        ("bad-signature", json.dumps(tampered).encode(), 403, "bad-signature"),
        (
            "stale-timestamp",
            ledger.sign("writer-a", "sample.note", {"text": "x"}, ts=stale).raw,
            422,
            "stale-timestamp",
        ),
        (
            "unknown-type",
            ledger.sign("writer-a", "sample.nothing", {}).raw,
            422,
            "unknown-type",
        ),
        (
            "invalid-body",
            ledger.sign("writer-a", "sample.note", {"txt": 1}).raw,
            422,
            "invalid-body",
        ),
        (
            "forbidden-role",
            ledger.sign("reader", "sample.note", {"text": "x"}).raw,
            403,
            "forbidden-role",
        ),
    ]


def test_every_refusal_is_a_problem_with_its_code_and_nothing_changes(
    api: TestClient, ledger: LedgerFixture
) -> None:
    before = size(api)
    for name, raw, status, code in problem_cases(ledger):
        body = assert_problem(api.post("/v1/entries", content=raw), status, code)
        assert body["instance"] == "/v1/entries", name
        assert body["request_id"]
    assert size(api) == before


def test_replay_revocation_and_state_conflict_over_http(
    api: TestClient, ledger: LedgerFixture
) -> None:
    nonce = new_nonce()
    assert (
        api.post(
            "/v1/entries",
            content=ledger.sign("writer-a", "sample.note", {"text": "a"}, nonce=nonce).raw,
        ).status_code
        == 201
    )
    again = ledger.sign("writer-a", "sample.note", {"text": "b"}, nonce=nonce)
    assert_problem(api.post("/v1/entries", content=again.raw), 409, "replay")
    claim = ledger.sign("writer-a", "sample.claim", {"item": "cow"})
    assert api.post("/v1/entries", content=claim.raw).status_code == 201
    other = ledger.sign("writer-b", "sample.claim", {"item": "cow"})
    body = assert_problem(api.post("/v1/entries", content=other.raw), 409, "state-conflict")
    assert "already claimed" in body["detail"]
    key = ledger.signers["writer-b"].key_id_hex
    revoke = ledger.sign("admin", "ledger.key.revoke", {"org": "writer-b", "key": key})
    assert api.post("/v1/entries", content=revoke.raw).status_code == 201
    late = ledger.sign("writer-b", "sample.note", {"text": "too late"})
    assert_problem(api.post("/v1/entries", content=late.raw), 403, "revoked-key")


def test_oversized_body_is_refused_before_parsing(api: TestClient) -> None:
    huge = b"{" + b" " * (70 * 1024) + b"}"
    assert_problem(api.post("/v1/entries", content=huge), 413, "payload-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted while streaming
        for _ in range(80):
            yield b" " * 1024

    assert_problem(api.post("/v1/entries", content=chunks()), 413, "payload-too-large")


def test_get_body_is_limited_before_the_signed_read_hashes_it(api: TestClient) -> None:
    forged = {
        "Sealchain-Org": "nobody",
        "Sealchain-Key": "00000000",
        "Sealchain-Time": format_ts(datetime.now(UTC)),
        "Sealchain-Signature": "AAAA",
    }
    big = b" " * (1024 * 1024 + 1)
    response = api.request("GET", "/v1/entries", content=big, headers=forged)
    assert_problem(response, 413, "payload-too-large")
    assert_problem(api.request("GET", "/v1/entries", headers=forged), 403, "unknown-org")


def test_trailing_slash_is_not_redirected_to_the_callers_host(api: TestClient) -> None:
    response = api.get("/v1/checkpoint/", headers={"host": "evil.example"}, follow_redirects=False)
    assert_problem(response, 404, "not-found")
    assert "location" not in response.headers


def test_unknown_route_and_bad_query_are_problems(api: TestClient) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404, "not-found")
    assert_problem(api.get("/v1/proofs/inclusion?index=x&size=1"), 400, "invalid-request")
    assert_problem(api.get("/v1/receipts/not-a-hash"), 404, "not-found")
    assert api.get("/v1/entries/batch").headers["allow"] == "POST"
    assert api.options("/v1/entries").headers["allow"] == "GET, POST"
    assert_problem(api.get(f"/v1/receipts/{'0' * 64}"), 404, "not-found")
    assert api.delete("/v1/entries").status_code == 405


# --- batch ----------------------------------------------------------------------------------------


def test_batch_checks_each_commits_the_valid_and_answers_in_order(
    api: TestClient, ledger: LedgerFixture
) -> None:
    first = ledger.sign("writer-a", "sample.note", {"text": "1"})
    api.post("/v1/entries", content=first.raw)
    batch = [
        ledger.sign("writer-a", "sample.note", {"text": "2"}).as_dict(),
        ledger.sign("reader", "sample.note", {"text": "no role"}).as_dict(),
        first.as_dict(),  # already on the ledger
        ledger.sign("writer-b", "sample.claim", {"item": "z"}).as_dict(),
        {"not": "an envelope"},
    ]
    response = api.post("/v1/entries/batch", content=json.dumps(batch))
    assert response.status_code == 200, response.text
    result = response.json()
    statuses = [item["status"] for item in result["items"]]
    assert statuses == [201, 403, 200, 201, 400]
    assert [item["position"] for item in result["items"]] == list(range(5))
    assert result["accepted"] == 2
    assert result["rejected"] == 2
    assert result["items"][1]["problem"]["code"] == "forbidden-role"
    assert result["items"][2]["index"] == 1
    policy_home = ledger.node.home
    ledger.node.write_members_file()
    for item in result["items"]:
        if item["receipt"]:
            verify_receipt(receipt_from_json(item["receipt"]), policy_home.trust_policy())
    assert size(api) == 4


def test_batch_limits(api: TestClient, ledger: LedgerFixture) -> None:
    assert_problem(api.post("/v1/entries/batch", content=b"{}"), 400, "invalid-request")
    assert_problem(api.post("/v1/entries/batch", content=b"[]"), 400, "invalid-request")
    one = ledger.sign("writer-a", "sample.note", {"text": "x"}).as_dict()
    assert_problem(
        api.post("/v1/entries/batch", content=json.dumps([one] * 1001)), 400, "invalid-request"
    )
    # Millions of tiny items (about 3 MB) are refused after 1001 parses, not after all of
    # them: the tail is not even JSON, and the answer is still the count, not malformed-json.
    many = b"[" + b",".join([b"{}"] * 1_000_000) + b",not JSON]"
    problem = assert_problem(api.post("/v1/entries/batch", content=many), 400, "invalid-request")
    assert problem["detail"] == "a batch holds 1 to 1000 envelopes; this one has more"
    response = api.post("/v1/entries/batch?receipts=false", content=json.dumps([one]))
    assert response.json()["items"][0]["receipt"] is None
    assert response.json()["items"][0]["index"] == 1


# --- public reads ---------------------------------------------------------------------------------


def test_receipt_checkpoint_and_proofs_agree(api: TestClient, ledger: LedgerFixture) -> None:
    envs = [ledger.sign("writer-a", "sample.note", {"text": str(i)}) for i in range(9)]
    api.post("/v1/entries/batch", content=json.dumps([e.as_dict() for e in envs[:4]]))
    api.post("/v1/entries/batch", content=json.dumps([e.as_dict() for e in envs[4:]]))

    cp = api.get("/v1/checkpoint").json()
    assert cp["size"] == 10
    note_text = api.get("/v1/checkpoint", headers={"accept": "text/plain"}).text
    assert note_text == cp["note"]
    parsed = parse_checkpoint(parse_note(note_text).text)
    assert base64.b64encode(parsed.root).decode() == cp["root"]

    proof = api.get("/v1/proofs/inclusion?index=4&size=10").json()
    merkle.verify_inclusion(
        proof["index"],
        10,
        merkle.leaf_hash(envs[3].raw),
        [base64.b64decode(p) for p in proof["proof"]],
        parsed.root,
    )
    assert_problem(api.get("/v1/proofs/inclusion?size=10"), 400, "invalid-request")
    assert_problem(api.get("/v1/proofs/inclusion?index=40&size=10"), 404, "not-found")
    assert_problem(api.get("/v1/proofs/inclusion?index=1&size=11"), 404, "not-found")

    old = api.get("/v1/checkpoint?size=5").json()
    consistency = api.get("/v1/proofs/consistency?first=5&second=10").json()
    merkle.verify_consistency(
        5,
        10,
        [base64.b64decode(p) for p in consistency["proof"]],
        base64.b64decode(old["root"]),
        parsed.root,
    )
    assert_problem(api.get("/v1/proofs/consistency?first=5&second=11"), 404, "not-found")

    text = api.get(f"/v1/receipts/{envs[0].tx_id}", headers={"accept": "text/x.tlog-proof"})
    assert text.text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    ledger.node.write_members_file()
    verify_receipt(load_receipt(text.content), ledger.node.home.trust_policy())
    earlier = api.get(f"/v1/receipts/{envs[0].tx_id}?size=5").json()
    assert "\n5\n" in earlier["checkpoint"]


def test_members_json_and_text(api: TestClient) -> None:
    members = api.get("/v1/members").json()
    by_org = {m["org"]: m for m in members}
    assert by_org["admin"]["roles"] == ["ledger.admin"]
    assert by_org["writer-a"]["keys"][0]["revoked_at"] is None
    text = api.get("/v1/members", headers={"accept": "text/plain"}).text
    assert any(
        line.startswith("writer-a sealchain.test/org/writer-a+") for line in text.splitlines()
    )


def test_health_and_metrics(api: TestClient, ledger: LedgerFixture) -> None:
    health = api.get("/healthz").json()
    assert health == {"status": "ok", "size": 1, "height": 0, "worker": os.getpid()}
    api.post("/v1/entries", content=ledger.sign("writer-a", "sample.note", {"text": "m"}).raw)
    api.post("/v1/entries", content=b"nope")
    metrics = api.get("/metrics").text
    assert "sealchain_entries_committed_total 1.0" in metrics
    assert 'sealchain_rejections_total{code="malformed-json"} 1.0' in metrics
    assert 'sealchain_request_seconds_count{method="POST",route="/v1/entries"} 2.0' in metrics
    assert "sealchain_block_entries_bucket" in metrics


def test_head_is_get_without_the_body(api: TestClient) -> None:
    for path in ("/healthz", "/v1/checkpoint", "/v1/members", "/openapi.json"):
        got, head = api.get(path), api.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and got.content, path
        assert head.headers["content-length"] == got.headers["content-length"], path
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert_problem(api.get("/v1/entries/batch"), 405, "method-not-allowed")
    assert api.head("/v1/entries/batch").status_code == 405
    metrics = api.get("/metrics").text
    assert 'sealchain_request_seconds_count{method="HEAD",route="/healthz"} 1.0' in metrics


def test_signed_head_is_signed_as_head(api: TestClient, ledger: LedgerFixture) -> None:
    signer, now = ledger.signers["writer-a"], format_ts(datetime.now(UTC))
    as_head = sign_request(signer, "writer-a", "HEAD", "/v1/entries", "", b"", now)
    response = api.head("/v1/entries", headers=as_head)
    assert response.status_code == 200 and response.content == b""
    as_get = sign_request(signer, "writer-a", "GET", "/v1/entries", "", b"", now)
    assert api.head("/v1/entries", headers=as_get).status_code == 403  # another method's


def test_app_routes_are_measured_under_the_path_clients_use(api: TestClient) -> None:
    assert api.get("/v1/beef/trace?gtin=09312345000012&lot=L1").status_code == 401
    metrics = api.get("/metrics").text
    assert 'sealchain_request_seconds_count{method="GET",route="/v1/beef/trace"} 1.0' in metrics
    assert 'sealchain_rejections_total{code="unauthenticated"} 1.0' in metrics


def test_framework_errors_are_documented_problems(api: TestClient) -> None:
    """Starlette's own 400 (form parsing) and 405 carry our codes, instance and request id."""
    bad_form = api.post("/v1/beef/scan", headers={"content-type": "multipart/form-data"})
    problem = assert_problem(bad_form, 400, "invalid-request")
    assert problem["instance"] == "/v1/beef/scan" and problem["request_id"]
    problem = assert_problem(api.delete("/v1/entries"), 405, "method-not-allowed")
    assert problem["instance"] == "/v1/entries" and problem["request_id"]

    def streamed_upload() -> Iterator[bytes]:  # chunked: no Content-Length to refuse early
        yield b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.png"\r\n\r\n'
        for _ in range(10 * 1024):
            yield b"\0" * 1024
        yield b"\r\n--b--\r\n"

    streamed = api.post(
        "/v1/beef/scan",
        content=streamed_upload(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    problem = assert_problem(streamed, 413, "payload-too-large")
    assert problem["instance"] == "/v1/beef/scan" and problem["title"] == "Payload too large"
    not_a_file = api.post("/v1/beef/scan", data={"photo": "x"})
    problem = assert_problem(not_a_file, 400, "invalid-request")
    assert "<class" not in problem["detail"] and "received: str" in problem["detail"], problem
    page = api.post("/docs")
    assert page.status_code == 405 and page.headers["allow"] == "GET"


def test_unusual_methods_share_one_metric_series(api: TestClient) -> None:
    for method in ("PROPFIND", "BREW", "MKCOL"):
        assert api.request(method, "/v1/entries").status_code in (404, 405)
    metrics = api.get("/metrics").text
    assert 'sealchain_request_seconds_count{method="other",route="/v1/entries"} 3.0' in metrics
    assert "PROPFIND" not in metrics


def test_request_id_is_echoed(api: TestClient) -> None:
    response = api.get("/healthz", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


# --- member reads ---------------------------------------------------------------------------------


def test_member_reads_need_a_valid_signature(api: TestClient, ledger: LedgerFixture) -> None:
    ledger.accept(ledger.sign("writer-a", "sample.note", {"text": "secret"}))
    signer = ledger.signers["writer-b"]
    ok = signed_get(api, signer, "writer-b", "/v1/entries", "after=-1&limit=10")
    assert ok.status_code == 200, ok.text
    assert [item["index"] for item in ok.json()["items"]] == [0, 1]
    block = signed_get(api, signer, "writer-b", "/v1/blocks/1")
    assert block.status_code == 200
    assert block.json()["header"]["height"] == 1
    tx_id = ok.json()["items"][1]["tx_id"]
    assert signed_get(api, signer, "writer-b", f"/v1/entries/{tx_id}").json()["index"] == 1
    assert signed_get(api, signer, "writer-b", "/v1/blocks", "limit=1").json()["next_after"] == 0

    assert_problem(api.get("/v1/entries"), 401, "unauthenticated")
    assert_problem(api.get("/v1/blocks/0"), 401, "unauthenticated")
    # a signed read replayed against another query is refused
    headers = sign_request(
        signer, "writer-b", "GET", "/v1/entries", "limit=1", b"", format_ts(datetime.now(UTC))
    )
    assert_problem(api.get("/v1/entries?limit=100", headers=headers), 403, "bad-signature")
    # the same signature with one flipped bit
    sig = bytearray(base64.b64decode(headers["Sealchain-Signature"]))
    sig[0] ^= 1
    tampered = {**headers, "Sealchain-Signature": base64.b64encode(bytes(sig)).decode()}
    assert_problem(api.get("/v1/entries?limit=1", headers=tampered), 403, "bad-signature")
    # another org's key, a stranger, a stale time
    wrong = sign_request(
        signer, "writer-a", "GET", "/v1/entries", "", b"", format_ts(datetime.now(UTC))
    )
    assert_problem(api.get("/v1/entries", headers=wrong), 403, "unknown-key")
    ghost = Signer.generate("sealchain.test/org/ghost")
    assert_problem(signed_get(api, ghost, "ghost", "/v1/entries"), 403, "unknown-org")
    old = format_ts(datetime.now(UTC) - timedelta(hours=2))
    stale = sign_request(signer, "writer-b", "GET", "/v1/entries", "", b"", old)
    assert_problem(api.get("/v1/entries", headers=stale), 422, "stale-timestamp")
    bad_time = {**headers, "Sealchain-Time": "yesterday"}
    assert_problem(api.get("/v1/entries?limit=1", headers=bad_time), 401, "unauthenticated")


def test_revoked_key_cannot_read(api: TestClient, ledger: LedgerFixture) -> None:
    key = ledger.signers["writer-b"].key_id_hex
    ledger.accept(ledger.sign("admin", "ledger.key.revoke", {"org": "writer-b", "key": key}))
    assert_problem(
        signed_get(api, ledger.signers["writer-b"], "writer-b", "/v1/entries"), 403, "revoked-key"
    )


# --- documentation --------------------------------------------------------------------------------


def test_openapi_documents_routes_and_problems(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/entries",
        "/v1/entries/batch",
        "/v1/entries/{tx_id}",
        "/v1/receipts/{tx_id}",
        "/v1/blocks/{height}",
        "/v1/blocks",
        "/v1/checkpoint",
        "/v1/proofs/inclusion",
        "/v1/proofs/consistency",
        "/v1/members",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path
    assert {"Problem", "Envelope", "Receipt"} <= set(schema["components"]["schemas"])
    submit = paths["/v1/entries"]["post"]
    documented = " ".join(r.get("description", "") for r in submit["responses"].values())
    for code in (
        "bad-signature",
        "unknown-org",
        "revoked-key",
        "replay",
        "stale-timestamp",
        "invalid-body",
        "forbidden-role",
        "state-conflict",
        "payload-too-large",
    ):
        assert f"`{code}`" in documented, code
    assert (
        submit["requestBody"]["content"]["application/json"]["example"]["type"] == "beef.commission"
    )


def test_docs_page_is_served_without_internet(api: TestClient) -> None:
    page = api.get("/docs").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    asset = api.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


def test_every_problem_code_is_distinct() -> None:
    codes = [cls.code for cls in all_error_types()]
    assert len(codes) == len(set(codes))


def test_api_docs_name_every_setting() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for name in Settings.model_fields:
        assert f"| `SEALCHAIN_{name.upper()}` |" in docs, name


# --- the serving factory ----------------------------------------------------------------------


def test_serving_factory_freezes_startup_objects(
    ledger: LedgerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sealchain serve` builds its app with app_from_env, which takes the startup objects out of
    # the cyclic collector (a full collection would walk them all again for every batch).
    monkeypatch.setenv("SEALCHAIN_HOME", str(ledger.settings.home))
    monkeypatch.setenv("SEALCHAIN_EXTRA_APPS", "tests.support.sample_app:SAMPLE_APP")
    if ledger.settings.database_url:
        monkeypatch.setenv("SEALCHAIN_DATABASE_URL", ledger.settings.database_url)
    loggers = [logging.getLogger(n) for n in ("sealchain.access", "sealchain.api")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    gc.unfreeze()
    try:
        app = app_from_env()
        assert gc.get_freeze_count() > 10_000
        with TestClient(app) as client:
            entry = ledger.sign("writer-a", "sample.note", {"text": "after the freeze"})
            assert client.post("/v1/entries", content=entry.raw).status_code == 201
    finally:
        gc.unfreeze()
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
