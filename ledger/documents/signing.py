"""Signing a PDF as PAdES baseline B-T (pyhanko), and validating one.

Two ways in, one signing core. `sign_pdf_with_key` takes a key, its certificate, the chain
and a `TimestampCallback`, a plain function from a digest to a DER TimeStampToken, so any TSA
(the ledger's, an HTTP one, a test one) plugs in without knowing pyhanko; it reserves a fixed
room for the signature, so the callback is asked exactly once per signature. `sign_pdf` is the
evidence app's async path: its `LedgerTimeStamper` records the digest as the ledger's TSA always
does (sequenced first: the token's genTime is a block time). pyhanko first asks that timestamper
for a token on a dummy digest to size the signature; that one is signed locally and never
recorded or embedded.

Keys are ECDSA P-256: every PDF validator (Acrobat, pyhanko, EU DSS) accepts ECDSA with SHA-256
in a CAdES signature, while Ed25519 in PDF signatures (ISO 32002) is recent and still refused
by many readers.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from asn1crypto import cms, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import dummy_digest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ledger.errors import ConfigError, PdfUnreadable, TimestampMismatch
from ledger.timestamping.pki import DocumentSigner
from ledger.timestamping.rfc3161 import TimeStampAuthority, TimeStampQuery, granted, parse_query

Stamp = Callable[[TimeStampQuery], Awaitable[bytes]]
# Room for the DER CMS signature, doubled because /Contents is written in hex (pyhanko's
# `bytes_reserved`). A P-256 signature with a two-certificate chain and a timestamp token
# carrying the TSA certificate is about 2.5 KB; 8 KB leaves room for RSA chains.
SIGNATURE_ROOM = 2 * 8192
FIELD_NAME = "Signature1"
# What pyhanko raises on a file it cannot parse: its own PdfError tree (read and stream errors)
# and, from deeper in its object parser and asn1crypto, plain Python errors.
_UNREADABLE = (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError)


class TimestampCallback(Protocol):
    def __call__(self, digest: bytes, hash_algorithm: str) -> bytes:
        """A DER TimeStampToken (a CMS ContentInfo holding SignedData over a TSTInfo) whose
        message imprint is `digest`, computed with `hash_algorithm` ("sha256", asn1crypto's
        names). Raise to refuse; sign_pdf_with_key lets the error through."""
        ...


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _checked_token(der: bytes, digest: bytes, hash_algorithm: str) -> cms.ContentInfo:
    """The token, once it is a TimeStampToken over exactly `digest`: a TSA that stamped the
    wrong bytes would otherwise be found only when someone validates the signed PDF."""
    try:
        token = cms.ContentInfo.load(der)
        signed = token["content"]
        content = signed["encap_content_info"]
        if token["content_type"].native != "signed_data" or content["content_type"].native != (
            "tst_info"
        ):
            raise ValueError("not a TimeStampToken")
        imprint = content["content"].parsed["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        stamped = imprint["hashed_message"].native
    except (ValueError, KeyError, TypeError) as e:
        raise TimestampMismatch(f"The timestamper did not return a TimeStampToken: {e}") from e
    if (algorithm, stamped) != (hash_algorithm, digest):
        raise TimestampMismatch(
            f"The timestamp token stamps {algorithm} {stamped.hex()}, "
            f"not the signature's {hash_algorithm} {digest.hex()}."
        )
    return token


class CallbackTimeStamper(TimeStamper):
    """A `TimestampCallback` as a pyhanko TimeStamper. pyhanko's default `async_timestamp`
    builds a TimeStampReq and hands it to `async_request_tsa_response`; a callback takes the
    digest itself, so `async_timestamp` is the one method replaced. No nonce: the callback has
    no request to carry one, and the token is checked against the digest instead."""

    def __init__(self, callback: TimestampCallback) -> None:
        super().__init__(include_nonce=False)  # type: ignore[no-untyped-call]
        self.callback = callback

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        # In a worker thread: a real TSA does network or database I/O, and a callback that
        # runs its own event loop (pyhanko's DummyTimeStamper in the tests) must not nest.
        der = await asyncio.to_thread(self.callback, message_digest, md_algorithm)
        return _checked_token(der, message_digest, md_algorithm)


class LedgerTimeStamper(TimeStamper):
    def __init__(self, tsa: TimeStampAuthority, stamp: Stamp) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.tsa, self.stamp = tsa, stamp

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        query = parse_query(req.dump())
        algorithm = req["message_imprint"]["hash_algorithm"]["algorithm"].native
        if query.digest == dummy_digest(algorithm):  # room for the token, never embedded
            token = self.tsa.token(
                query.digest, query.hash_algorithm, datetime.now(UTC), 0, nonce=query.nonce
            )
            return tsp.TimeStampResp.load(granted(token))
        return tsp.TimeStampResp.load(await self.stamp(query))


async def _sign(
    pdf: bytes,
    key: ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    timestamper: TimeStamper | None,
    *,
    reason: str,
    location: str,
    name: str,
    bytes_reserved: int | None,
) -> bytes:
    """The signing core: `chain` is the signer's certificate first, then its issuers, all
    embedded in the CMS so a validator needs only the root."""
    if chain[0].public_key() != key.public_key():
        raise ConfigError("The signing key does not belong to the signing certificate.")
    private = keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certs = [_asn1(c) for c in chain]
    simple = signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=private,
        # The issuers only: pyhanko embeds the signing certificate itself, and would twice.
        cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=name,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except _UNREADABLE as e:
        raise PdfUnreadable(f"The file is not a PDF that can be signed: {e}") from e
    out = await signers.PdfSigner(meta, signer=simple, timestamper=timestamper).async_sign_pdf(
        writer, bytes_reserved=bytes_reserved
    )
    signed: bytes = out.getvalue()
    return signed


async def sign_pdf(
    pdf: bytes,
    signer: DocumentSigner,
    timestamper: TimeStamper | None,
    *,
    reason: str,
    location: str,
    name: str,
) -> bytes:
    """`pdf` with a PAdES B-T signature by `signer`, its timestamp from `timestamper`; with no
    timestamper, PAdES B-B, whose signing time is only the signer's claim."""
    return await _sign(
        pdf,
        signer.key,
        signer.chain,
        timestamper,
        reason=reason,
        location=location,
        name=name,
        bytes_reserved=None,
    )


def sign_pdf_with_key(
    pdf: bytes,
    *,
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    timestamper: TimestampCallback,
    reason: str,
    location: str,
    signer_name: str,
    signature_room: int = SIGNATURE_ROOM,
) -> bytes:
    """`pdf` with a PAdES baseline B-T signature by `key`, whose certificate is `cert`.

    `chain` is `cert`'s issuers, nearest first (intermediates, then the root); all are embedded.
    `timestamper` is called exactly once, with the SHA-256 of the signature value. Raises
    PdfUnreadable for bytes that are not a PDF, ConfigError for a key that is not `cert`'s,
    TimestampMismatch for a token over other bytes, and pyhanko's SigningError if the signature
    outgrows `signature_room` (hex digits). Runs its own event loop: from a coroutine, call it
    through `asyncio.to_thread`.
    """
    certs = [cert, *(c for c in chain if c != cert)]
    return asyncio.run(
        _sign(
            pdf,
            key,
            certs,
            CallbackTimeStamper(timestamper),
            reason=reason,
            location=location,
            name=signer_name,
            bytes_reserved=signature_room,
        )
    )


@dataclass(frozen=True)
class PdfVerdict:
    ok: bool
    reason: str  # a sentence: what failed, or that everything held
    signer: str = ""  # the signing certificate's subject
    signed_at: datetime | None = None  # the timestamp's genTime
    whole_file: bool = False  # no byte after the signature (no later revision)
    intact: bool = False  # the signed bytes hash to what the signature covers
    valid: bool = False  # the signature verifies under the signing certificate
    trusted: bool = False  # the signing certificate chains to one of the trust roots
    timestamp_valid: bool = False  # a signature timestamp, intact, valid and trusted


def validate_pdf(
    pdf: bytes, trust_roots: Sequence[x509.Certificate], *, require_timestamp: bool = True
) -> PdfVerdict:
    """Validate the PDF's one signature against `trust_roots`: intact, valid, trusted, covering
    the whole file, with a valid timestamp (unless `require_timestamp` is False; a timestamp
    present must still verify). Never raises for bad input: a file that is not a signed PDF
    gives a verdict that is not ok and says why."""
    roots = [_asn1(c) for c in trust_roots]
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
        if len(signatures) != 1:
            return PdfVerdict(False, f"expected one signature, found {len(signatures)}")
        status = validate_pdf_signature(
            signatures[0], signer_validation_context=context, ts_validation_context=context
        )
    except (*_UNREADABLE, SigningError) as e:
        return PdfVerdict(False, f"not a readable signed PDF: {e}")
    subject = status.signing_cert.subject.human_friendly
    stamp = status.timestamp_validity
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    stamp_ok = stamp is not None and stamp.intact and stamp.valid and stamp.trusted
    problems = [
        why
        for failed, why in (
            (not status.intact, "the signed bytes were changed"),
            (not status.valid, "the signature does not verify"),
            (not status.trusted, "the signer does not chain to a trusted root"),
            (not whole, "the file was changed after it was signed"),
            (stamp is None and require_timestamp, "the signature has no timestamp"),
            (stamp is not None and not stamp_ok, "the timestamp does not verify"),
        )
        if failed
    ]
    return PdfVerdict(
        not problems,
        "; ".join(problems)
        or f"signature intact, valid, trusted, {'timestamped' if stamp_ok else 'untimestamped'}, "
        "whole file",
        subject,
        stamp.timestamp if stamp is not None else None,
        whole,
        status.intact,
        status.valid,
        status.trusted,
        stamp_ok,
    )
