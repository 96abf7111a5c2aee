"""The evidence certificate as a signed PDF: what `certificate()` states, laid out for a court
in the reader's language, with a QR code to the certificate page, signed PAdES B-T by the
platform with a timestamp from the ledger's TSA (docs/evidence.md).

Each PDF made is kept (off the ledger, evidence_pdfs): its signature's timestamp is sequenced
as an evidence.stamp like any other, so making it again for each download would fill the log.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from apps.evidence.certificate import certificate
from apps.evidence.settings import EvidenceSettings
from apps.evidence.site import SITE
from apps.evidence.stamping import block_time, stamp
from apps.evidence.tables import pdfs
from ledger import plugin
from ledger.plugin import (
    N_,
    Ledger,
    Row,
    Section,
    TimeStampQuery,
    render_certificate,
)

CATEGORIES = {
    "work": N_("registered work"),
    "evidence": N_("evidence"),
    "appraisal-report": N_("appraisal report"),
    "judgment": N_("judgment"),
}
METHODS = {
    "file": N_("file deposited by its holder"),
    "web-page": N_("web page captured by the platform"),
    "screen-recording": N_("screen recording"),
    "upload": N_("upload"),
}


def public_base(request: Request, ledger: Ledger) -> str:
    return (ledger.public_url or str(request.base_url)).rstrip("/")


def _sections(cert: dict[str, Any]) -> list[Section]:
    gettext = SITE.gettext
    hashes, capture, on_ledger = cert["hashes"], cert["capture"], cert["ledger"]
    depositor, platform = cert["depositor"], cert["platform"]
    deposit = [
        Row(gettext("Deposit number"), cert["number"]),
        Row(gettext("Title"), cert["title"]),
        Row(gettext("Category"), gettext(CATEGORIES[cert["category"]])),
        Row(gettext("Media type"), cert["mediaType"], mono=True),
        Row(gettext("Size"), gettext("%(bytes)s bytes", bytes=SITE.format_number(cert["size"], 0))),
        Row("SHA-256", hashes["sha256"], mono=True),
    ]
    if hashes.get("sha3_256"):
        deposit.append(Row("SHA3-256", hashes["sha3_256"], mono=True))
    if cert.get("iscc"):
        deposit.append(Row(gettext("ISCC text code"), cert["iscc"], mono=True))
    capture_rows = [
        Row(gettext("Method"), gettext(METHODS[capture["method"]])),
        Row(gettext("Captured at (as signed)"), capture["capturedAt"], mono=True),
        Row(gettext("Tool"), capture["tool"]),
        Row(gettext("Operator"), capture["operator"]),
    ]
    if capture.get("sourceUrl"):
        capture_rows.insert(1, Row(gettext("Source URL"), capture["sourceUrl"], mono=True))
    registered = SITE.format_datetime(block_time(cert["registered"]))
    cases = ", ".join(c["case"] for c in platform["cases"]) or gettext("none yet")
    if platform["independent"]:
        independence = gettext(
            "The platform is not a party to any case this deposit was submitted to (%(cases)s).",
            cases=cases,
        )
    else:
        independence = gettext(
            "The platform IS a party to a case this deposit was submitted to (%(cases)s).",
            cases=cases,
        )
    return [
        Section(gettext("Deposit"), deposit),
        Section(
            gettext("Depositor"),
            [
                Row(gettext("Organisation"), f"{depositor['name']} ({depositor['org']})"),
                Row(gettext("Filing number"), depositor["filing"] or "-"),
                Row(gettext("Registered (block time)"), registered),
            ],
        ),
        Section(gettext("Capture"), capture_rows),
        Section(
            gettext("On the ledger"),
            [
                Row(gettext("Log index"), str(on_ledger["index"])),
                Row(gettext("Block height"), str(on_ledger["block"])),
                Row(gettext("Transaction id"), on_ledger["tx_id"], mono=True),
                Row(
                    gettext("Checkpoint (signed note)"), on_ledger["checkpoint"].rstrip(), mono=True
                ),
                Row(gettext("Consortium members"), str(on_ledger["members"])),
            ],
        ),
        Section(
            gettext("What a court weighs"),
            [
                Row(
                    gettext("Platform"),
                    f"{platform['name']} ({platform['org']}), {platform['filing']}",
                ),
                Row(gettext("Independence"), independence),
                Row(
                    gettext("Integrity of capture"),
                    gettext(
                        "%(method)s, with %(tool)s, by %(operator)s, as signed by the depositor.",
                        method=gettext(METHODS[capture["method"]]),
                        tool=capture["tool"],
                        operator=capture["operator"],
                    ),
                ),
                Row(
                    gettext("Integrity of storage"),
                    gettext(
                        "Only the hashes are on the ledger; the file stays with its holder. Any "
                        "change to the file changes its SHA-256. The signed entry is included in "
                        "the checkpoint above, which the log key signs."
                    ),
                ),
            ],
        ),
    ]


async def certificate_pdf(
    request: Request, ledger: Ledger, idx: int, settings: EvidenceSettings
) -> bytes:
    """The signed PDF certificate of deposit `idx` in the request's language (made once)."""
    with SITE.speaking(request) as locale:
        with ledger.read() as conn:
            kept = conn.execute(
                select(pdfs.c.pdf).where(pdfs.c.idx == idx, pdfs.c.locale == locale)
            ).scalar()
            if kept is not None:
                return bytes(kept)
            cert = certificate(ledger, conn, idx, settings)
        gettext = SITE.gettext
        url = f"{public_base(request, ledger)}/evidence/{cert['number']}"
        unsigned = render_certificate(
            title=gettext("Evidence certificate"),
            subtitle=gettext("%(number)s · %(title)s", number=cert["number"], title=cert["title"]),
            sections=_sections(cert),
            qr_url=url,
            qr_caption=url,
            footer=gettext(
                "To verify without this ledger: openssl ts -verify -data FILE -in FILE.tsr "
                "-CAfile tsa-ca.pem checks the timestamp; sealchain verify RECEIPT --file FILE "
                "checks the signed entry and its inclusion; this PDF's signature chains to the "
                "same CA (tsa-ca.pem)."
            ),
            author=cert["platform"]["name"],
        )
    stamped: dict[str, int] = {}

    async def record(query: TimeStampQuery) -> bytes:
        accepted, reply = await stamp(ledger, query, "0" * 16)
        stamped["idx"] = accepted.index
        return reply

    signer = ledger.document_signer(settings.platform)
    # Through the module: PDF signing loads on first use, not with the app (ledger.plugin).
    signed = await plugin.sign_pdf(
        unsigned,
        signer,
        plugin.LedgerTimeStamper(ledger.timestamp_authority, record),
        reason=f"Evidence certificate {cert['number']}",
        location=ledger.public_url or "Sealchain",
        name=cert["platform"]["name"],
    )
    try:
        with ledger.write_off_ledger() as conn:
            conn.execute(
                insert(pdfs).values(
                    idx=idx, locale=locale, pdf=signed, stamp_idx=stamped.get("idx", -1)
                )
            )
    except IntegrityError:  # another request made it at the same moment: keep the first
        with ledger.read() as conn:
            first = conn.execute(
                select(pdfs.c.pdf).where(pdfs.c.idx == idx, pdfs.c.locale == locale)
            ).scalar()
        return bytes(first) if first is not None else signed
    return signed
