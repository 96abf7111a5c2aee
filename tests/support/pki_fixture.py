"""A throwaway PKI for document tests: a CA, a document signer and a TSA (critical
timeStamping EKU), built here with `cryptography` rather than with ledger/timestamping, so the
signing code is checked against certificates it did not make. The test timestamper is pyhanko's
DummyTimeStamper behind the plain callback protocol the signing code takes; the ledger's own TSA
plugs into the same protocol. The CA and the signer are ECDSA P-256, as in production; the TSA
key is RSA because DummyTimeStamper signs with RSA only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.common_utils import handle_tsp_response
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

# Fixed, so two runs make certificates with the same dates; a year either side of any
# day the tests run on covers the validation time.
NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ThrowawayPki:
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    signer_key: ec.EllipticCurvePrivateKey
    signer_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey
    tsa_cert: x509.Certificate


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sealchain test"),
        ]
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    usage: x509.ExtendedKeyUsage | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)  # RFC 3161 2.3: critical
    return builder.sign(issuer_key, hashes.SHA256())


def make_test_pki(name: str = "Test CA") -> ThrowawayPki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue(name, ca_key, _name(name), ca_key, ca=True)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = _issue("Test document signer", signer_key, ca_cert.subject, ca_key, ca=False)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = _issue(
        "Test TSA",
        tsa_key,
        ca_cert.subject,
        ca_key,
        ca=False,
        usage=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
    )
    return ThrowawayPki(ca_key, ca_cert, signer_key, signer_cert, tsa_key, tsa_cert)


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class DummyTimestampCallback:
    """The `TimestampCallback` protocol over pyhanko's DummyTimeStamper: a local TSA that
    signs every digest with the fixture's TSA key. `calls` records what it was asked for."""

    def __init__(self, pki: ThrowawayPki, when: dt.datetime | None = None) -> None:
        key = asn1_keys.PrivateKeyInfo.load(
            pki.tsa_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self._tsa = DummyTimeStamper(
            tsa_cert=_asn1_cert(pki.tsa_cert),
            tsa_key=key,
            fixed_dt=when,
            include_nonce=False,
        )
        self.calls: list[tuple[bytes, str]] = []

    def __call__(self, digest: bytes, hash_algorithm: str) -> bytes:
        self.calls.append((digest, hash_algorithm))
        # DummyTimeStamper's synchronous path: request, response, token out of the response.
        nonce, request = self._tsa.request_cms(digest, hash_algorithm)  # type: ignore[no-untyped-call]
        token = handle_tsp_response(self._tsa.request_tsa_response(request), nonce)
        der: bytes = token.dump()
        return der
