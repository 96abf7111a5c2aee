"""The ledger's tokens and replies checked by the real `openssl` binary (OpenSSL 3.0 here):
`openssl ts -verify` accepts them, refuses a file changed by one byte, compares the nonce of
the query, and `openssl verify -purpose timestampsign` accepts the TSA certificate only."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.timestamping.pki import cert_pem, issue_signer, make_pki
from ledger.timestamping.rfc3161 import TimeStampAuthority, granted, parse_query, rejection

PKI = make_pki("sealchain-openssl-test")
TSA = TimeStampAuthority(PKI.tsa_key, PKI.tsa_cert, PKI.ca_cert)
BLOCK_TIME = dt.datetime(2026, 12, 3, 8, 30, 0, 123000, tzinfo=dt.UTC)
LOG_INDEX = 1234


@pytest.fixture(autouse=True)
def _openssl_installed() -> None:
    # As tests/support/browser.py does for Chromium: a developer without the binary is told
    # why, CI (where it is installed) never passes with these checks silently skipped.
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is missing: CI must check tokens with the real binary")
        pytest.skip("openssl is not installed (apt-get install openssl)")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    path = tmp_path / "tsa-ca.pem"
    path.write_bytes(cert_pem(PKI.ca_cert))
    return str(path)


def _evidence(tmp_path: Path) -> Path:
    path = tmp_path / "page.html"
    path.write_bytes(b"<html>the page as it was captured</html>\n")
    return path


def _query(tmp_path: Path, data: Path, *options: str) -> Path:
    path = tmp_path / "q.tsq"
    _ok(_run("ts", "-query", "-data", str(data), "-out", str(path), *options))
    return path


def _reply_to(tmp_path: Path, query: Path, serial: int = LOG_INDEX) -> Path:
    path = tmp_path / "r.tsr"
    path.write_bytes(TSA.reply(parse_query(query.read_bytes()), BLOCK_TIME, serial))
    return path


def test_openssl_verifies_a_deposit_token_and_refuses_a_file_changed_by_one_byte(
    tmp_path: Path, ca_file: str
) -> None:
    evidence = _evidence(tmp_path)
    digest = hashlib.sha256(evidence.read_bytes()).digest()
    tsr = tmp_path / "page.html.tsr"
    tsr.write_bytes(granted(TSA.token(digest, "sha256", BLOCK_TIME, LOG_INDEX)))
    checked = _run("ts", "-verify", "-data", str(evidence), "-in", str(tsr), "-CAfile", ca_file)
    assert "Verification: OK" in _ok(checked)
    changed = bytearray(evidence.read_bytes())
    changed[7] ^= 0x01
    evidence.write_bytes(bytes(changed))
    refused = _run("ts", "-verify", "-data", str(evidence), "-in", str(tsr), "-CAfile", ca_file)
    assert refused.returncode != 0
    assert "Verification: FAILED" in refused.stdout
    assert "message imprint mismatch" in refused.stderr


def test_openssl_verifies_a_bare_token(tmp_path: Path, ca_file: str) -> None:
    evidence = _evidence(tmp_path)
    token = tmp_path / "page.html.tst"
    token.write_bytes(
        TSA.token(hashlib.sha256(evidence.read_bytes()).digest(), "sha256", BLOCK_TIME, 9)
    )
    checked = _run(
        "ts", "-verify", "-data", str(evidence), "-in", str(token), "-token_in", "-CAfile", ca_file
    )
    assert "Verification: OK" in _ok(checked)


def test_openssl_refuses_a_token_from_another_consortiums_tsa(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    tsr = tmp_path / "page.html.tsr"
    query = _query(tmp_path, evidence, "-sha256", "-cert")
    tsr.write_bytes(TSA.reply(parse_query(query.read_bytes()), BLOCK_TIME, 1))
    stranger = tmp_path / "stranger-ca.pem"
    stranger.write_bytes(cert_pem(make_pki("someone else").ca_cert))
    refused = _run(
        "ts", "-verify", "-data", str(evidence), "-in", str(tsr), "-CAfile", str(stranger)
    )
    assert refused.returncode != 0
    assert "certificate verify error" in refused.stderr


@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no-nonce"])
def test_reply_text_shows_the_query_nonce_and_queryfile_verification_passes(
    tmp_path: Path, ca_file: str, nonce: bool
) -> None:
    evidence = _evidence(tmp_path)
    query = _query(tmp_path, evidence, "-sha256", "-cert", *(() if nonce else ("-no_nonce",)))
    asked = parse_query(query.read_bytes())
    assert (asked.nonce is not None) == nonce
    reply = _reply_to(tmp_path, query)
    text = _ok(_run("ts", "-reply", "-in", str(reply), "-text"))
    assert "Status: Granted." in text
    assert f"Serial number: 0x{LOG_INDEX:04X}" in text
    assert "Time stamp: Dec  3 08:30:00.123 2026 GMT" in text
    assert "Policy OID: 1.3.6.1.4.1.32473.3161.1" in text
    if asked.nonce is None:
        assert "Nonce: unspecified" in text
    else:
        # openssl prints the nonce as hex with an even number of digits, uppercase
        hex_nonce = f"{asked.nonce:X}"
        assert f"Nonce: 0x{hex_nonce.zfill(len(hex_nonce) + len(hex_nonce) % 2)}" in text
    checked = _run("ts", "-verify", "-queryfile", str(query), "-in", str(reply), "-CAfile", ca_file)
    assert "Verification: OK" in _ok(checked)


def test_queryfile_verification_refuses_a_reply_to_another_nonce(
    tmp_path: Path, ca_file: str
) -> None:
    # A reply replayed for a later query of the same file: the nonce is what tells them apart.
    evidence = _evidence(tmp_path)
    first = _query(tmp_path, evidence, "-sha256", "-cert").rename(tmp_path / "first.tsq")
    replay = _reply_to(tmp_path, first)
    later = _query(tmp_path, evidence, "-sha256", "-cert")
    assert parse_query(later.read_bytes()).nonce != parse_query(first.read_bytes()).nonce
    assert "Verification: OK" in _ok(
        _run("ts", "-verify", "-queryfile", str(first), "-in", str(replay), "-CAfile", ca_file)
    )
    refused = _run(
        "ts", "-verify", "-queryfile", str(later), "-in", str(replay), "-CAfile", ca_file
    )
    assert refused.returncode != 0
    assert "nonce mismatch" in refused.stderr


@pytest.mark.parametrize("algorithm", ["-sha384", "-sha512", "-sha3-256"])
def test_openssl_verifies_tokens_for_every_served_hash(
    tmp_path: Path, ca_file: str, algorithm: str
) -> None:
    evidence = _evidence(tmp_path)
    query = _query(tmp_path, evidence, algorithm, "-cert")
    reply = _reply_to(tmp_path, query)
    checked = _run("ts", "-verify", "-queryfile", str(query), "-in", str(reply), "-CAfile", ca_file)
    assert "Verification: OK" in _ok(checked)
    checked = _run("ts", "-verify", "-data", str(evidence), "-in", str(reply), "-CAfile", ca_file)
    assert "Verification: OK" in _ok(checked)


def test_a_token_without_the_certificate_verifies_given_it(tmp_path: Path, ca_file: str) -> None:
    evidence = _evidence(tmp_path)
    query = _query(tmp_path, evidence, "-sha256")  # no -cert: certReq false
    assert not parse_query(query.read_bytes()).cert_req
    reply = _reply_to(tmp_path, query)
    args = ("ts", "-verify", "-queryfile", str(query), "-in", str(reply), "-CAfile", ca_file)
    assert _run(*args).returncode != 0  # openssl has no certificate to check it with
    tsa = tmp_path / "tsa.crt"
    tsa.write_bytes(cert_pem(PKI.tsa_cert))
    assert "Verification: OK" in _ok(_run(*args, "-untrusted", str(tsa)))


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        ("bad_alg", "unrecognized or unsupported algorithm identifier"),
        ("bad_request", "transaction not permitted or supported"),
        ("bad_data_format", "the data submitted has the wrong format"),
        ("unaccepted_policy", "the requested TSA policy is not supported by the TSA"),
        ("system_failure", "the request cannot be handled due to system failure"),
    ],
)
def test_openssl_reads_a_rejection_and_its_reason(
    tmp_path: Path, ca_file: str, failure: str, shown: str
) -> None:
    reply = tmp_path / "r.tsr"
    reply.write_bytes(rejection(failure, "sha1 is not served; use sha256"))
    text = _ok(_run("ts", "-reply", "-in", str(reply), "-text"))
    assert "Status: Rejected." in text
    assert "Status description: sha1 is not served; use sha256" in text
    assert f"Failure info: {shown}" in text
    assert "TST info:\nNot included." in text
    evidence = _evidence(tmp_path)
    refused = _run("ts", "-verify", "-data", str(evidence), "-in", str(reply), "-CAfile", ca_file)
    assert refused.returncode != 0


def test_openssl_accepts_the_tsa_certificate_for_timestamping_and_no_other(
    tmp_path: Path, ca_file: str
) -> None:
    tsa = tmp_path / "tsa.crt"
    tsa.write_bytes(cert_pem(PKI.tsa_cert))
    checked = _run("verify", "-purpose", "timestampsign", "-CAfile", ca_file, str(tsa))
    assert f"{tsa}: OK" in _ok(checked)
    # A member's document signer is not a timestamping certificate (no timeStamping EKU).
    signer = tmp_path / "signer.crt"
    signer.write_bytes(cert_pem(issue_signer(PKI, "hz-notary", "Hangzhou Notary").cert))
    refused = _run("verify", "-purpose", "timestampsign", "-CAfile", ca_file, str(signer))
    assert refused.returncode != 0
    assert "unsuitable certificate purpose" in refused.stderr
