"""The RFC 3161 service checked by the tools others wrote: `openssl ts -query | curl | openssl ts
-reply/-verify` against a real server, with and without a nonce, and each deposit's token
accepted by `openssl ts -verify -data FILE` and refused for a file changed by one byte."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from apps.evidence import builders
from apps.evidence.demo import AUTHOR
from apps.evidence.numbers import deposit_number
from ledger.client import LedgerClient
from ledger.home import Home
from tests.support.server import demo_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("evidence-tsa")
    with demo_server(root) as (url, home):
        (root / "tsa-ca.pem").write_bytes(httpx.get(url + "/v1/evidence/tsa-ca.pem").content)
        yield url, home, root


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", "ts", *args], input=stdin, capture_output=True, check=False)


@pytest.mark.parametrize("nonce", [True, False])
def test_openssl_query_curl_reply_round_trip(served: tuple[str, Path, Path], nonce: bool) -> None:
    url, _, root = served
    data = root / f"page-{nonce}.html"
    data.write_bytes(b"<html>captured</html>\n")
    query = root / f"q-{nonce}.tsq"
    options = [] if nonce else ["-no_nonce"]
    made = _openssl("-query", "-data", str(data), "-sha256", "-cert", *options, "-out", str(query))
    assert made.returncode == 0, made.stderr
    posted = subprocess.run(
        ["curl", "-sS", "-f", "-H", "Content-Type: application/timestamp-query",
         "--data-binary", f"@{query}", f"{url}/v1/evidence/tsa"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    reply = root / f"r-{nonce}.tsr"
    reply.write_bytes(posted.stdout)
    text = _openssl("-reply", "-in", str(reply), "-text")
    assert text.returncode == 0, text.stderr
    assert b"Status: Granted." in text.stdout
    assert (b"Nonce: unspecified" in text.stdout) != nonce
    ca = str(root / "tsa-ca.pem")
    checked = _openssl("-verify", "-queryfile", str(query), "-in", str(reply), "-CAfile", ca)
    assert checked.returncode == 0 and b"Verification: OK" in checked.stdout, checked.stderr
    checked = _openssl("-verify", "-data", str(data), "-in", str(reply), "-CAfile", ca)
    assert checked.returncode == 0, checked.stderr
    data.write_bytes(b"<html>captured</html>\n!")
    refused = _openssl("-verify", "-data", str(data), "-in", str(reply), "-CAfile", ca)
    assert refused.returncode != 0 and b"Verification: FAILED" in refused.stdout


def test_the_stamped_hash_is_on_the_ledger_before_the_token_is_answered(
    served: tuple[str, Path, Path],
) -> None:
    url, _, root = served
    data = b"stamped first"
    query = root / "first.tsq"
    (root / "first.bin").write_bytes(data)
    _openssl("-query", "-data", str(root / "first.bin"), "-sha256", "-out", str(query))
    answer = httpx.post(
        url + "/v1/evidence/tsa",
        content=query.read_bytes(),
        headers={"content-type": "application/timestamp-query"},
    )
    number = answer.headers["Sealchain-Deposit"]
    found = httpx.post(
        url + "/v1/evidence/verify", json={"sha256": hashlib.sha256(data).hexdigest()}
    )
    (registration,) = found.json()["registrations"]
    assert registration["number"] == number and registration["kind"] == "stamp"
    assert registration["org"] == "evidence-platform"
    receipt = httpx.get(url + answer.headers["Location"])
    assert receipt.status_code == 200


def test_refusals_are_timestamp_replies_that_say_why(served: tuple[str, Path, Path]) -> None:
    url, _, root = served
    (root / "x.bin").write_bytes(b"x")
    sha1 = root / "sha1.tsq"
    _openssl("-query", "-data", str(root / "x.bin"), "-sha1", "-out", str(sha1))
    for body, content_type, why in [
        (sha1.read_bytes(), "application/timestamp-query", b"sha1 is not served"),
        (b"garbage", "application/timestamp-query", b"not a DER TimeStampReq"),
        (sha1.read_bytes(), "application/json", b"application/timestamp-query"),
    ]:
        answer = httpx.post(
            url + "/v1/evidence/tsa", content=body, headers={"content-type": content_type}
        )
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/timestamp-reply"
        reply = root / "refused.tsr"
        reply.write_bytes(answer.content)
        text = _openssl("-reply", "-in", str(reply), "-text")
        assert b"Status: Rejected" in text.stdout and why in text.stdout, text.stdout


def test_every_deposit_token_verifies_with_openssl_and_refuses_a_changed_file(
    served: tuple[str, Path, Path],
) -> None:
    url, home, root = served
    h = Home(home)
    data = b"chapter twelve, as the author wrote it\n"
    evidence = root / "chapter.txt"
    evidence.write_bytes(data)
    with LedgerClient(url, AUTHOR, h.member_signer(AUTHOR), h.trust_policy()) as client:
        receipt = client.submit(
            *builders.deposit(data, title="ch", media_type="text/plain", operator=AUTHOR)
        )
    number = deposit_number(receipt.index)
    token = httpx.get(f"{url}/v1/evidence/deposits/{number}/token.tsr")
    assert token.status_code == 200
    assert token.content == httpx.get(f"{url}/v1/evidence/deposits/{number}/token.tsr").content
    tsr = root / "chapter.txt.tsr"
    tsr.write_bytes(token.content)
    ca = str(root / "tsa-ca.pem")
    checked = _openssl("-verify", "-data", str(evidence), "-in", str(tsr), "-CAfile", ca)
    assert checked.returncode == 0 and b"Verification: OK" in checked.stdout, checked.stderr
    text = _openssl("-reply", "-in", str(tsr), "-text").stdout
    assert f"Serial number: 0x{receipt.index:02X}".encode() in text
    evidence.write_bytes(data[:-2] + b"?\n")
    refused = _openssl("-verify", "-data", str(evidence), "-in", str(tsr), "-CAfile", ca)
    assert refused.returncode != 0
