"""The consortium's small PKI: a CA, the timestamping authority's certificate, and the
certificates members sign documents (PDF evidence certificates) with.

Keys are ECDSA P-256, not the Ed25519 of the ledger's own signatures: OpenSSL 3.0's TS code
signs and verifies through PKCS#7, which has no Ed25519 (tried with 3.0.19: `openssl ts -reply`
with an Ed25519 TSA key fails in PKCS7_SIGNER_INFO_set, "signing not supported for this key
type"; the same set-up with P-256 gives "Verification: OK"), and PDF readers and pyhanko
accept ECDSA everywhere. P-256 rather than RSA because cryptography signs it
deterministically (RFC 6979), so a token is a function of its inputs.

A home made before pki/ existed gets its PKI on first use (`load_or_create_pki`), under a lock
file, so that several API workers starting at once make one CA, not a mix of several.

Files, in the home's pki/ directory (private keys mode 0600, PKCS#8 PEM):
    ca.pem, ca.crt           the CA; its certificate is what `openssl ts -verify -CAfile` needs
    tsa.pem, tsa.crt         the TSA: extendedKeyUsage timeStamping only, critical (RFC 3161 2.3)
    signers/<org>.pem, .crt  a member's document-signing key and certificate, issued on first use
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
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
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path} ({e.strerror}); pki/ is incomplete") from e
    try:
        key = serialization.load_pem_private_key(data, passphrase or None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{path}: cannot read the key ({e}); is the passphrase right?") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not an ECDSA key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path} ({e.strerror}); pki/ is incomplete") from e
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as e:
        raise ConfigError(f"{path} is not a PEM certificate: {e}") from e


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_public(path: Path, data: bytes) -> None:
    # Atomic, so that a reader that sees the file never sees half of it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@contextlib.contextmanager
def _creating(directory: Path) -> Iterator[None]:
    """Hold `directory`/.lock while making files there: processes sharing the home (API
    workers) must not interleave two CAs' or two signers' files."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save_pki(
    directory: Path, pki: Pki, passphrase: bytes | None, write_private: WritePrivate
) -> None:
    """Write the four files; tsa.crt last, as it is what says the PKI is complete."""
    write_private(directory / "ca.pem", _key_pem(pki.ca_key, passphrase))
    write_private(directory / "tsa.pem", _key_pem(pki.tsa_key, passphrase))
    _write_public(directory / "ca.crt", cert_pem(pki.ca_cert))
    _write_public(directory / "tsa.crt", cert_pem(pki.tsa_cert))


def load_or_create_pki(
    directory: Path, consortium: str, passphrase: bytes | None, write_private: WritePrivate
) -> Pki:
    """The PKI in `directory`, made there first if the home predates it (init writes it now).

    Raises ConfigError for a key that cannot be read (wrong passphrase) or a bad certificate."""
    if not (directory / "tsa.crt").exists():
        with _creating(directory):
            if not (directory / "tsa.crt").exists():  # another process may have made it
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
    """Member `org`'s signer from `directory`, issued by the CA and saved there on first use.

    The certificate is written after the key, so one that exists has its key beside it."""
    key_path, cert_path = directory / f"{org}.pem", directory / f"{org}.crt"
    if not cert_path.exists():
        with _creating(directory):
            if not cert_path.exists():
                signer = issue_signer(pki, org, name)
                write_private(key_path, _key_pem(signer.key, passphrase))
                _write_public(cert_path, cert_pem(signer.cert))
                return signer
    cert = _load_cert(cert_path)
    return DocumentSigner(_load_key(key_path, passphrase), cert, (cert, pki.ca_cert))
