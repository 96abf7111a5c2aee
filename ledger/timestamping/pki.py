"""The consortium's small PKI: a CA, the timestamping authority's certificate, and the
certificates members sign documents (PDF evidence certificates) with.

Keys are ECDSA P-256, not the Ed25519 of the ledger's own signatures: `openssl ts -verify`
(its TS code verifies through PKCS#7, which has no Ed25519) and PDF readers accept ECDSA
everywhere. Signatures are deterministic (RFC 6979), so a token is a function of its inputs.

Files, in the home's pki/ directory (private keys mode 0600, PKCS#8 PEM):
    ca.pem, ca.crt           the CA; its certificate is what `openssl ts -verify -CAfile` needs
    tsa.pem, tsa.crt         the TSA: extendedKeyUsage timeStamping only, critical (RFC 3161 2.3)
    signers/<org>.pem, .crt  a member's document-signing key and certificate, issued on first use
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledger.errors import ConfigError

WritePrivate = Callable[[Path, bytes], None]  # ledger.home.write_private: 0600, atomic
CA_YEARS, TSA_YEARS, SIGNER_YEARS = 20, 10, 5
# Back-dated a day, so that a certificate made now already covers a token made by a machine
# whose clock is slightly behind.
NOT_BEFORE_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class DocumentSigner:
    """A member's document-signing key with its certificate chain (leaf first, then the CA)."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class Pki:
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    tsa_key: ec.EllipticCurvePrivateKey
    tsa_cert: x509.Certificate


def _name(common: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    years: int,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(63) + 1)
        .not_valid_before(now - NOT_BEFORE_SLACK)
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _usage(**allowed: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(allowed)
    return x509.KeyUsage(**flags)


def make_pki(consortium: str) -> Pki:
    """A new CA and TSA certificate for `consortium`."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{consortium} certificate authority", consortium)
    ca_cert = _issue(
        ca_name,
        ca_key,
        ca_name,
        ca_key,
        CA_YEARS,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_usage(key_cert_sign=True, crl_sign=True), True),
        ],
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = _issue(
        _name(f"{consortium} timestamping authority", consortium),
        tsa_key,
        ca_name,
        ca_key,
        TSA_YEARS,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_usage(digital_signature=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
        ],
    )
    return Pki(ca_key, ca_cert, tsa_key, tsa_cert)


def issue_signer(pki: Pki, org: str, name: str) -> DocumentSigner:
    """A document-signing certificate for member `org` (its display `name`), from the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(
        _name(org, name),
        key,
        pki.ca_cert.subject,
        pki.ca_key,
        SIGNER_YEARS,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_usage(digital_signature=True, content_commitment=True), True),
        ],
    )
    return DocumentSigner(key, cert, (cert, pki.ca_cert))


# --- files ------------------------------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _load_key(path: Path, passphrase: bytes | None) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase or None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{path}: cannot read the key ({e}); is the passphrase right?") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not an ECDSA key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as e:
        raise ConfigError(f"{path} is not a PEM certificate: {e}") from e


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def save_pki(
    directory: Path, pki: Pki, passphrase: bytes | None, write_private: WritePrivate
) -> None:
    write_private(directory / "ca.pem", _key_pem(pki.ca_key, passphrase))
    write_private(directory / "tsa.pem", _key_pem(pki.tsa_key, passphrase))
    (directory / "ca.crt").write_bytes(cert_pem(pki.ca_cert))
    (directory / "tsa.crt").write_bytes(cert_pem(pki.tsa_cert))


def load_or_create_pki(
    directory: Path, consortium: str, passphrase: bytes | None, write_private: WritePrivate
) -> Pki:
    """The PKI in `directory`, made there first if the home predates it (init writes it now)."""
    if not (directory / "tsa.crt").exists():
        directory.mkdir(parents=True, exist_ok=True)
        save_pki(directory, make_pki(consortium), passphrase, write_private)
    return Pki(
        _load_key(directory / "ca.pem", passphrase),
        _load_cert(directory / "ca.crt"),
        _load_key(directory / "tsa.pem", passphrase),
        _load_cert(directory / "tsa.crt"),
    )


def load_or_issue_signer(
    directory: Path,
    pki: Pki,
    org: str,
    name: str,
    passphrase: bytes | None,
    write_private: WritePrivate,
) -> DocumentSigner:
    key_path, cert_path = directory / f"{org}.pem", directory / f"{org}.crt"
    if not cert_path.exists():
        signer = issue_signer(pki, org, name)
        directory.mkdir(parents=True, exist_ok=True)
        write_private(key_path, _key_pem(signer.key, passphrase))
        cert_path.write_bytes(cert_pem(signer.cert))
        return signer
    return DocumentSigner(
        _load_key(key_path, passphrase), _load_cert(cert_path), (_load_cert(cert_path), pki.ca_cert)
    )
