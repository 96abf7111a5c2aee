"""RFC 3161 in Python: queries read as `openssl ts -query` writes them, refusals with reasons,
tokens that verify and reproduce, and any change refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidRequest
from ledger.home import Home
from ledger.timestamping.pki import issue_signer, make_pki
from ledger.timestamping.rfc3161 import (
    POLICY,
    TimeStampAuthority,
    TokenInvalid,
    parse_query,
    verify_token,
)

PKI = make_pki("sealchain-test")
TSA = TimeStampAuthority(PKI.tsa_key, PKI.tsa_cert, PKI.ca_cert)
WHEN = dt.datetime(2026, 12, 3, 8, 30, 0, 123000, tzinfo=dt.UTC)


def _openssl_query(tmp_path: Path, *options: str) -> bytes:
    data = tmp_path / "data.txt"
    data.write_bytes(b"evidence\n")
    out = tmp_path / "q.tsq"
    subprocess.run(
        ["openssl", "ts", "-query", "-data", str(data), "-out", str(out), *options], check=True
    )
    return out.read_bytes()


@pytest.mark.parametrize(
    ("options", "algorithm", "nonce", "cert_req"),
    [
        (("-sha256", "-cert"), "sha256", True, True),
        (("-sha256", "-no_nonce"), "sha256", False, False),
        (("-sha512", "-cert"), "sha512", True, True),
        (("-sha3-256",), "sha3-256", True, False),
    ],
)
def test_reads_queries_openssl_writes(
    tmp_path: Path, options: tuple[str, ...], algorithm: str, nonce: bool, cert_req: bool
) -> None:
    query = parse_query(_openssl_query(tmp_path, *options))
    assert query.hash_algorithm == algorithm
    assert (query.nonce is not None) == nonce
    assert query.cert_req == cert_req
    if algorithm == "sha256":
        assert query.digest == hashlib.sha256(b"evidence\n").digest()


def test_refuses_what_it_cannot_serve_and_says_why(tmp_path: Path) -> None:
    sha1 = _openssl_query(tmp_path, "-sha1")
    with pytest.raises(InvalidRequest, match="sha1 is not served"):
        parse_query(sha1)
    good = _openssl_query(tmp_path, "-sha256")
    with pytest.raises(InvalidRequest, match="not a DER TimeStampReq"):
        parse_query(good + b"\0")
    with pytest.raises(InvalidRequest, match="at most"):
        parse_query(b"\x30" * 5000)
    other = _openssl_query(tmp_path, "-sha256", "-tspolicy", "1.2.3.4")
    with pytest.raises(InvalidRequest, match=r"policy 1\.2\.3\.4 is not served"):
        parse_query(other)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_are_an_invalid_request_or_a_query(data: bytes) -> None:
    with contextlib.suppress(InvalidRequest):
        parse_query(data)


def test_a_token_verifies_reproduces_and_names_its_serial_and_time() -> None:
    digest = hashlib.sha256(b"evidence").digest()
    token = TSA.token(digest, "sha256", WHEN, 42, nonce=7)
    assert token == TSA.token(digest, "sha256", WHEN, 42, nonce=7)  # deterministic ECDSA
    info = verify_token(token, digest, PKI.ca_cert)
    assert (info.serial, info.gen_time, info.nonce, info.policy) == (42, WHEN, 7, POLICY)


def test_a_changed_token_or_digest_or_ca_is_refused() -> None:
    digest = hashlib.sha256(b"evidence").digest()
    token = TSA.token(digest, "sha256", WHEN, 42)
    with pytest.raises(TokenInvalid, match="another digest"):
        verify_token(token, hashlib.sha256(b"other").digest(), PKI.ca_cert)
    with pytest.raises(TokenInvalid, match="not issued by the trusted CA"):
        verify_token(token, digest, make_pki("someone else").ca_cert)
    accepted = []
    for position in range(len(token)):
        changed = bytearray(token)
        changed[position] ^= 0x01
        try:
            verify_token(bytes(changed), digest, PKI.ca_cert)
        except TokenInvalid:
            continue
        accepted.append(position)
    assert accepted == []  # every bit of a token is signed, or checked against what is


def test_the_tsa_certificate_is_for_timestamping_only_and_critical() -> None:
    usage = PKI.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    PKI.tsa_cert.verify_directly_issued_by(PKI.ca_cert)
    signer = issue_signer(PKI, "evidence-platform", "Evidence platform")
    signer.cert.verify_directly_issued_by(PKI.ca_cert)
    with pytest.raises(x509.ExtensionNotFound):
        signer.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


def test_init_writes_the_pki_with_private_keys_0600(tmp_path: Path) -> None:
    from ledger.config import Settings
    from ledger.service.consortium import demo_plan
    from ledger.service.node import init_home

    node, _ = init_home(Settings(home=tmp_path / "home"), demo_plan())
    node.close()
    pki = tmp_path / "home" / "pki"
    assert sorted(p.name for p in pki.iterdir()) == ["ca.crt", "ca.pem", "tsa.crt", "tsa.pem"]
    assert (pki / "ca.pem").stat().st_mode & 0o777 == 0o600
    assert (pki / "tsa.pem").stat().st_mode & 0o777 == 0o600
    home = Home(tmp_path / "home")
    first = home.document_signer("evidence-platform", "Evidence platform")
    again = home.document_signer("evidence-platform", "Evidence platform")
    assert first.cert == again.cert  # issued once, then read back
    assert (pki / "signers" / "evidence-platform.pem").stat().st_mode & 0o777 == 0o600
    assert "sealchain-demo" in home.pki().ca_cert.subject.rfc4514_string()


def test_a_home_made_before_the_pki_gets_one_on_first_use(tmp_path: Path) -> None:
    root = tmp_path / "old"
    root.mkdir()
    (root / "genesis.json").write_text('{"body": {"consortium": "old-consortium"}}')
    tsa = Home(root).timestamp_authority()
    assert "old-consortium" in tsa.ca_cert.subject.rfc4514_string()
    assert (root / "pki" / "tsa.crt").exists()
