"""RFC 3161 in Python: queries read as `openssl ts -query` writes them, refusals with reasons,
tokens that verify and reproduce, and any change refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidRequest, VerificationError
from ledger.home import Home
from ledger.timestamping.pki import issue_signer, make_pki
from ledger.timestamping.rfc3161 import (
    POLICY,
    TimeStampAuthority,
    TokenInvalid,
    parse_query,
    rejection,
    verify_token,
)

PKI = make_pki("sealchain-test")
TSA = TimeStampAuthority(PKI.tsa_key, PKI.tsa_cert, PKI.ca_cert)
# Today, not a fixed date: make_pki dates its certificates from now (a day of slack), so a
# fixed day fails the validity check a day later. The 123 ms keeps milliseconds in the test.
WHEN = dt.datetime.now(dt.UTC).replace(microsecond=123000)


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


def _query_der(
    algorithm: str = "sha256", digest: bytes = bytes(32), version: int = 1, nonce: int | None = 5
) -> bytes:
    der: bytes = tsp.TimeStampReq(
        {
            "version": version,
            "message_imprint": {
                "hash_algorithm": {"algorithm": algorithm},
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    return der


@pytest.mark.parametrize(
    ("der", "reason"),
    [
        (b"GET / HTTP/1.1\r\n", "not a DER TimeStampReq"),
        (b"", "not a DER TimeStampReq"),
        (_query_der()[:-1], "not a DER TimeStampReq"),
        (_query_der() + b"\x00", "trailing data"),
        (_query_der(version=2), "version must be 1"),
        (_query_der(digest=bytes(20)), "a sha256 digest is 32 bytes, not 20"),
        (_query_der("sha384", bytes(32)), "a sha384 digest is 48 bytes, not 32"),
        (_query_der("md5", bytes(16)), "md5 is not served"),
    ],
    ids=["garbage", "empty", "truncated", "trailing", "v2", "short", "sha384-32", "md5"],
)
def test_refuses_a_malformed_query_and_says_why(der: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason) as refused:
        parse_query(der)
    assert refused.value.code == "invalid-request"


def test_reads_a_query_without_nonce_or_policy() -> None:
    query = parse_query(_query_der("sha384", bytes(range(48)), nonce=None))
    assert (query.hash_algorithm, query.digest) == ("sha384", bytes(range(48)))
    assert query.nonce is None and query.policy is None and query.cert_req


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_are_an_invalid_request_or_a_query(data: bytes) -> None:
    with contextlib.suppress(InvalidRequest):
        parse_query(data)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**16),
            st.sampled_from(["set", "delete", "insert"]),
            st.binary(max_size=2),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_damaged_query_is_an_invalid_request_or_a_query(
    edits: list[tuple[int, str, bytes]],
) -> None:
    # Random bytes rarely get past the outer SEQUENCE; edits of a real query reach the fields
    # (a REAL where the nonce was once escaped as AttributeError).
    data = bytearray(_query_der(nonce=0x2D5DC8A84FF55711))
    for position, kind, value in edits:
        at = position % (len(data) + 1)
        if kind == "set" and at < len(data):
            data[at] = value[0] if value else data[at] ^ 0x08
        elif kind == "delete":
            del data[at : at + 1 + len(value)]
        else:
            data[at:at] = value
    with contextlib.suppress(InvalidRequest):
        parse_query(bytes(data))


def test_a_nonce_of_the_wrong_type_is_an_invalid_request() -> None:
    der = bytearray(_query_der(nonce=0x2D5DC8A84FF55711))
    at = der.index(bytes.fromhex("02082d5dc8a84ff55711"))
    der[at] = 0x09  # the nonce INTEGER's tag made REAL's
    with pytest.raises(InvalidRequest, match="not a DER TimeStampReq"):
        parse_query(bytes(der))


def test_a_token_verifies_reproduces_and_names_its_serial_and_time() -> None:
    digest = hashlib.sha256(b"evidence").digest()
    token = TSA.token(digest, "sha256", WHEN, 42, nonce=7)
    assert token == TSA.token(digest, "sha256", WHEN, 42, nonce=7)  # deterministic ECDSA
    info = verify_token(token, digest, PKI.ca_cert)
    assert (info.serial, info.gen_time, info.nonce, info.policy) == (42, WHEN, 7, POLICY)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=2**70))
def test_signed_attributes_are_written_as_a_der_set_in_order(digest: bytes, serial: int) -> None:
    """The attributes are encoded once and put together as bytes: they must still be the DER
    SET OF the signature covers (a verifier re-encodes them in this order before checking)."""
    token = cms.ContentInfo.load(TSA.token(digest, "sha256", WHEN, serial))
    signer = token["content"]["signer_infos"][0]
    encodings = [attribute.dump() for attribute in signer["signed_attrs"]]
    assert encodings == sorted(encodings)
    types = {attribute["type"].native for attribute in signer["signed_attrs"]}
    assert types == {"content_type", "message_digest", "signing_certificate_v2"}
    content = token["content"]["encap_content_info"]["content"].contents
    (found,) = [a for a in signer["signed_attrs"] if a["type"].native == "message_digest"]
    assert found["values"][0].native == hashlib.sha256(content).digest()
    verify_token(token.dump(), digest, PKI.ca_cert)


def test_a_reply_echoes_the_nonce_and_carries_the_certificate_only_when_asked() -> None:
    digest = hashlib.sha256(b"evidence").digest()
    for cert_req in (True, False):
        query = parse_query(_query_der(digest=digest, nonce=2**63 + 1))
        asked = type(query)(query.hash_algorithm, query.digest, query.nonce, cert_req, None)
        reply = tsp.TimeStampResp.load(TSA.reply(asked, WHEN, 3))
        assert reply["status"]["status"].native == "granted"
        signed = reply["time_stamp_token"]["content"]
        info = signed["encap_content_info"]["content"].parsed
        assert info["nonce"].native == 2**63 + 1
        assert (signed["certificates"].native is not None) == cert_req
    # verify_token needs the certificate in the token (deposit tokens always carry it)
    with pytest.raises(TokenInvalid, match="must carry the TSA certificate"):
        verify_token(TSA.token(digest, "sha256", WHEN, 3, cert_req=False), digest, PKI.ca_cert)


def test_a_rejection_names_its_failure_and_reason() -> None:
    # asn1crypto's TimeStampResp insists on a token; a rejection is SEQUENCE { status } alone
    reply = core.load(rejection("bad_alg", "sha1 is not served"), strict=True)
    status = tsp.PKIStatusInfo.load(reply.contents, strict=True)
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"bad_alg"}
    assert status["status_string"].native == ["sha1 is not served"]


def test_a_token_for_each_served_hash_verifies() -> None:
    for algorithm, make in [
        ("sha256", hashlib.sha256),
        ("sha384", hashlib.sha384),
        ("sha512", hashlib.sha512),
        ("sha3-256", hashlib.sha3_256),
    ]:
        digest = make(b"evidence").digest()
        info = verify_token(TSA.token(digest, algorithm, WHEN, 1), digest, PKI.ca_cert)
        assert info.hash_algorithm == algorithm


def test_token_invalid_is_a_verification_error_with_a_stable_code() -> None:
    assert issubclass(TokenInvalid, VerificationError)
    assert (TokenInvalid.code, TokenInvalid.status) == ("bad-timestamp", 422)


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
    files = sorted(p.name for p in pki.iterdir() if not p.name.startswith("."))  # not .lock
    assert files == ["ca.crt", "ca.pem", "tsa.crt", "tsa.pem"]
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
