"""Signing a PDF as PAdES baseline B-T (pyhanko), and validating one.

The signature's timestamp comes from the ledger's own TSA through `stamp`, an async callable
that records the digest as the TSA always does (sequenced first: the token's genTime is a
block time) and returns the DER TimeStampResp. pyhanko first asks its timestamper for a token
on a dummy digest to reserve room for the signature; that one is signed locally and never
recorded or embedded.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import dummy_digest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ledger.timestamping.pki import DocumentSigner
from ledger.timestamping.rfc3161 import TimeStampAuthority, TimeStampQuery, granted, parse_query

Stamp = Callable[[TimeStampQuery], Awaitable[bytes]]


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


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


async def sign_pdf(
    pdf: bytes,
    signer: DocumentSigner,
    timestamper: TimeStamper,
    *,
    reason: str,
    location: str,
    name: str,
) -> bytes:
    """`pdf` with a PAdES B-T signature by `signer`, its timestamp from `timestamper`."""
    key = keys.PrivateKeyInfo.load(
        signer.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    chain = [_asn1(c) for c in signer.chain]
    simple = signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=name,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await signers.PdfSigner(meta, signer=simple, timestamper=timestamper).async_sign_pdf(
        writer
    )
    signed: bytes = out.getvalue()
    return signed


@dataclass(frozen=True)
class PdfVerdict:
    ok: bool
    reason: str
    signer: str = ""
    signed_at: datetime | None = None  # the timestamp's genTime
    whole_file: bool = False


def validate_pdf(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> PdfVerdict:
    """Validate the PDF's one signature against `trust_roots`: intact, valid, trusted, covering
    the whole file, with a valid timestamp."""
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
    except (PdfReadError, SigningError, ValueError, KeyError, TypeError) as e:
        return PdfVerdict(False, f"not a readable signed PDF: {e}")
    subject = status.signing_cert.subject.human_friendly
    stamp = status.timestamp_validity
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problems = [
        why
        for failed, why in (
            (not status.intact, "the signed bytes were changed"),
            (not status.valid, "the signature does not verify"),
            (not status.trusted, "the signer does not chain to a trusted root"),
            (not whole, "the file was changed after it was signed"),
            (stamp is None, "the signature has no timestamp"),
            (
                stamp is not None and not (stamp.intact and stamp.valid and stamp.trusted),
                "the timestamp does not verify",
            ),
        )
        if failed
    ]
    return PdfVerdict(
        not problems,
        "; ".join(problems) or "signature intact, valid, trusted, timestamped, whole file",
        subject,
        stamp.timestamp if stamp is not None else None,
        whole,
    )
