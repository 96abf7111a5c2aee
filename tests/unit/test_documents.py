"""ledger/documents, checked by tools others wrote: pypdf reads the text and the positions it is
drawn at, zxing-cpp decodes the QR code (from the embedded image and from a pdfium rendering),
pyhanko validates the PAdES signature and its timestamp, qpdf checks the structure. The PKI and
the TSA are the throwaway ones of tests/support/pki_fixture.py."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2  # type: ignore[import-untyped]
import pytest
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.generic import NameObject, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics

from ledger.documents.pdf import MARGIN, Row, Section, render_certificate
from ledger.documents.signing import sign_pdf_with_key, validate_pdf
from ledger.errors import ConfigError, PdfUnreadable, TimestampMismatch
from tests.support.pki_fixture import DummyTimestampCallback, ThrowawayPki, make_test_pki

URL = "https://ledger.example/evidence/EV-00000003"
HASH = "36ecccca5204169683b9770d76d7d0eaece477dbd96ae99832d3ba497b7ce327"
CHECKPOINT = (
    "sealchain.demo/log\n"
    "1\n"
    "Mmnb0uaSbauxV77izqrh9Rfzvcg9SPdk2ncbHT/5+u4=\n"
    "\n"
    "— sealchain.demo/log Y9RYQTEBNWi8rc1GS2HPkTBfnqD85Q84KQpX0JJB7UIKwTw8ZRGVgGA1QYDdnx3diPSXnG"
    "p0Mb/HX5RMi+vBT6iq9Ao=\n"
    "— sealchain.demo/witness/pboc ttFJUAAAAABrCpEJpYpH8ud28UH9LCS5lbdiUJPYE1xERxSAiEv7WiTIEentS"
    "7PlgjFo+FuPLZw1Zfh/xwNZRzeQ96AS3uK2mFISCg==\n"
)
STAMPED_AT = dt.datetime(2026, 3, 1, 10, 0, 0, tzinfo=dt.UTC)


def _certificate(*, deposit: str = "EV-00000003", note: str = CHECKPOINT) -> bytes:
    return render_certificate(
        title="电子数据存证证书 Evidence certificate",
        subtitle=f"{deposit} · 第十二章 雨夜渡口",
        sections=[
            Section(
                "存证信息",
                [
                    Row("存证编号", deposit),
                    Row("存证人 Depositor", "杭州某某文化传媒有限公司 (hz-author)"),
                    Row("文件哈希 SHA-256", HASH, mono=True),
                    Row("区块高度 / 日志序号", "1 / 3"),
                ],
            ),
            Section("检查点 Checkpoint", [Row("已签名检查点", note, mono=True)]),
        ],
        qr_url=URL,
        qr_caption="扫码核验 Scan to verify",
        footer="本证书由存证平台签发。 Issued by the evidence platform.",
        author="存证平台",
    )


def _english() -> bytes:
    return render_certificate(
        title="Certificate of conformity",
        subtitle="PBOC-2022-0042 · POS terminal X1",
        sections=[Section("Product", [Row("Status", "valid"), Row("Digest", HASH, mono=True)])],
        qr_url="https://ledger.example/certs/PBOC-2022-0042",
        footer="Issued by the certification body.",
        author="Certification body",
    )


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _flat(text: str) -> str:
    """Extracted text without the line breaks wrapping put in."""
    return re.sub(r"\s+", "", text)


def _sign(pdf: bytes, pki: ThrowawayPki, stamper: DummyTimestampCallback | None = None) -> bytes:
    return sign_pdf_with_key(
        pdf,
        key=pki.signer_key,
        cert=pki.signer_cert,
        chain=[pki.ca_cert],
        timestamper=stamper or DummyTimestampCallback(pki, STAMPED_AT),
        reason="Evidence certificate EV-00000003",
        location="Hangzhou",
        signer_name="存证平台",
    )


@pytest.fixture(scope="module")
def pki() -> ThrowawayPki:
    return make_test_pki()


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return _certificate()


@pytest.fixture(scope="module")
def signed(pki: ThrowawayPki, unsigned: bytes) -> bytes:
    return _sign(unsigned, pki)


def _byte_range(pdf: bytes) -> tuple[int, int, int]:
    found = re.search(rb"/ByteRange \[0 (\d+) (\d+) (\d+)\]", pdf)
    assert found is not None
    first, second, length = (int(n) for n in found.groups())
    return first, second, length


# --- rendering -------------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_unsigned_bytes(unsigned: bytes) -> None:
    assert _certificate() == unsigned
    assert _certificate(deposit="EV-00000004") != unsigned


def test_chinese_and_english_text_round_trip_through_text_extraction(unsigned: bytes) -> None:
    text = _text(unsigned)
    for expected in ("电子数据存证证书 Evidence certificate", "存证编号", "文件哈希 SHA-256"):
        assert expected in text
    assert "杭州某某文化传媒有限公司 (hz-author)" in text
    assert "EV-00000003" in text


def test_every_value_is_printed_whole(unsigned: bytes) -> None:
    flat = _flat(_text(unsigned))
    assert HASH in flat
    for line in CHECKPOINT.splitlines():
        assert _flat(line) in flat
    assert URL in flat  # printed under the QR code, wrapped in its narrow column


def _drawn(pdf: bytes) -> list[tuple[int, float, float, str]]:
    """(page, left x, right x, text) of every piece of text drawn, its width measured with the
    font the PDF names at the size it is drawn. pypdf reports each piece at the start of its
    line (the text matrix is not advanced by the pieces before it on the line), so pieces at
    one starting point are laid end to end."""
    pieces: list[tuple[int, float, float, str]] = []
    line: list[object] = [None, 0.0]  # (page, x, y) of the current line, its width so far
    for number, page in enumerate(pypdf.PdfReader(io.BytesIO(pdf)).pages):

        def visit(
            text: str, cm: Any, tm: Any, font: Any, size: float, number: int = number
        ) -> None:
            if font is None:
                return
            scale = cm[0] * tm[0]
            start = (number, tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5])
            if line[0] != start:
                line[:] = [start, 0.0]
            left = start[1] + line[1]
            name = str(font["/BaseFont"]).lstrip("/")
            width = pdfmetrics.stringWidth(text.rstrip("\n"), name, size) * scale
            line[1] += width
            if text.strip():
                pieces.append((number, left, left + width, text))

        page.extract_text(visitor_text=visit)
    return pieces


def test_long_hashes_and_notes_wrap_inside_the_margins(unsigned: bytes) -> None:
    pieces = _drawn(unsigned)
    assert any(HASH[:16] in text for _, _, _, text in pieces)  # the visitor saw the values
    for _, left, right, text in pieces:
        assert left >= MARGIN - 1 and right <= A4[0] - MARGIN + 1, text


def test_a_value_longer_than_a_page_continues_on_the_next(pki: ThrowawayPki) -> None:
    note = "".join(f"line {i:03d} {HASH}\n" for i in range(150))
    pdf = _certificate(note=note)
    assert 2 <= len(pypdf.PdfReader(io.BytesIO(pdf)).pages) <= 4
    flat = _flat(_text(pdf))
    assert all(f"line{i:03d}{HASH}" in flat for i in range(150))
    for _, left, right, text in _drawn(pdf):
        assert left >= MARGIN - 1 and right <= A4[0] - MARGIN + 1, text


def test_a_certificate_fits_one_page(unsigned: bytes) -> None:
    assert len(pypdf.PdfReader(io.BytesIO(unsigned)).pages) == 1


def _fonts(pdf: bytes) -> set[str]:
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    fonts: Any = page["/Resources"]["/Font"]  # type: ignore[index]
    return {str(fonts[name].get_object()["/BaseFont"]).lstrip("/") for name in fonts}


def test_an_english_certificate_needs_no_chinese_font() -> None:
    assert _fonts(_english()) == {"Helvetica", "Courier"}
    assert "STSong-Light" in _fonts(_certificate())


def test_the_qr_image_in_the_pdf_decodes_to_exactly_the_url(unsigned: bytes) -> None:
    (image,) = pypdf.PdfReader(io.BytesIO(unsigned)).pages[0].images
    assert image.image is not None
    codes = zxingcpp.read_barcodes(image.image.convert("RGB"))
    assert [code.text for code in codes] == [URL]


def test_the_printed_page_scans_to_exactly_the_url(unsigned: bytes) -> None:
    page = pypdfium2.PdfDocument(unsigned)[0]
    codes = zxingcpp.read_barcodes(page.render(scale=2).to_pil())
    assert [code.text for code in codes] == [URL]


# --- signing and validation ------------------------------------------------------------------


def test_a_signed_certificate_validates(pki: ThrowawayPki, signed: bytes) -> None:
    verdict = validate_pdf(signed, trust_roots=[pki.ca_cert])
    assert verdict.ok, verdict.reason
    assert (verdict.intact, verdict.valid, verdict.trusted) == (True, True, True)
    assert verdict.whole_file and verdict.timestamp_valid
    assert "Test document signer" in verdict.signer
    assert verdict.signed_at == STAMPED_AT


def test_the_timestamper_is_asked_once_for_the_signatures_sha256(
    pki: ThrowawayPki, unsigned: bytes
) -> None:
    stamper = DummyTimestampCallback(pki, STAMPED_AT)
    _sign(unsigned, pki, stamper)
    ((digest, algorithm),) = stamper.calls
    assert algorithm == "sha256" and len(digest) == 32


def test_signing_keeps_the_certificate_as_rendered(unsigned: bytes, signed: bytes) -> None:
    assert signed.startswith(unsigned)  # an incremental update: the original bytes, then more
    assert _text(signed) == _text(unsigned)


def test_validation_rejects_a_flipped_byte_in_the_signed_content(
    pki: ThrowawayPki, signed: bytes
) -> None:
    first, _, _ = _byte_range(signed)
    at = signed.index(b"stream", 100) + 20  # inside a content stream, well before /Contents
    assert at < first
    changed = bytearray(signed)
    changed[at] ^= 0x01
    verdict = validate_pdf(bytes(changed), trust_roots=[pki.ca_cert])
    assert not verdict.ok and not verdict.intact
    assert "the signed bytes were changed" in verdict.reason


def test_validation_rejects_a_changed_signature_value(pki: ThrowawayPki, signed: bytes) -> None:
    first, _, _ = _byte_range(signed)
    at = first + 1 + 2 * 1500  # a hex digit of the DER signature (the zero padding comes after)
    changed = bytearray(signed)
    changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
    assert not validate_pdf(bytes(changed), trust_roots=[pki.ca_cert]).ok


def test_an_update_appended_after_signing_is_reported(pki: ThrowawayPki, signed: bytes) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root[NameObject("/Lang")] = pdf_string("en")  # any change, saved as a new revision
    writer.update_root()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    verdict = validate_pdf(out.getvalue(), trust_roots=[pki.ca_cert])
    assert verdict.intact and verdict.valid  # the signed revision itself is untouched...
    assert not verdict.whole_file and not verdict.ok  # ...but it is not the whole file
    assert "the file was changed after it was signed" in verdict.reason


def test_another_ca_does_not_trust_the_signer(signed: bytes) -> None:
    stranger = make_test_pki("Another CA")
    verdict = validate_pdf(signed, trust_roots=[stranger.ca_cert])
    assert verdict.intact and not verdict.trusted and not verdict.ok
    assert "the signer does not chain to a trusted root" in verdict.reason


@pytest.mark.parametrize(
    "data",
    [b"", b"not a pdf", b"%PDF-1.7\n%%EOF\n"],
    ids=["empty", "text", "header-only"],
)
def test_validation_answers_a_verdict_for_what_is_not_a_pdf(pki: ThrowawayPki, data: bytes) -> None:
    verdict = validate_pdf(data, trust_roots=[pki.ca_cert])
    assert not verdict.ok and verdict.reason


def test_validation_answers_a_verdict_for_a_truncated_or_unsigned_pdf(
    pki: ThrowawayPki, unsigned: bytes, signed: bytes
) -> None:
    truncated = validate_pdf(signed[: len(signed) // 2], trust_roots=[pki.ca_cert])
    assert not truncated.ok and truncated.reason
    plain = validate_pdf(unsigned, trust_roots=[pki.ca_cert])
    assert not plain.ok and plain.reason == "expected one signature, found 0"


def test_signing_refuses_what_is_not_a_pdf(pki: ThrowawayPki) -> None:
    with pytest.raises(PdfUnreadable):
        _sign(b"not a pdf", pki)


def test_signing_refuses_a_key_that_is_not_the_certificates(
    pki: ThrowawayPki, unsigned: bytes
) -> None:
    with pytest.raises(ConfigError):
        sign_pdf_with_key(
            unsigned,
            key=ec.generate_private_key(ec.SECP256R1()),
            cert=pki.signer_cert,
            chain=[pki.ca_cert],
            timestamper=DummyTimestampCallback(pki),
            reason="r",
            location="l",
            signer_name="n",
        )


def test_signing_refuses_a_token_over_other_bytes(pki: ThrowawayPki, unsigned: bytes) -> None:
    honest = DummyTimestampCallback(pki)

    def elsewhere(digest: bytes, hash_algorithm: str) -> bytes:
        return honest(bytes(32), hash_algorithm)

    def garbage(digest: bytes, hash_algorithm: str) -> bytes:
        return b"\x30\x03\x02\x01\x00"

    for stamper in (elsewhere, garbage):
        with pytest.raises(TimestampMismatch):
            sign_pdf_with_key(
                unsigned,
                key=pki.signer_key,
                cert=pki.signer_cert,
                chain=[pki.ca_cert],
                timestamper=stamper,
                reason="r",
                location="l",
                signer_name="n",
            )


# --- independent tools -----------------------------------------------------------------------


def test_qpdf_finds_the_signed_structure_sound(signed: bytes, tmp_path: Path) -> None:
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.skip("qpdf is not installed: apt-get install -y qpdf")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(signed)
    checked = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    path.write_bytes(signed[: len(signed) // 2])
    assert subprocess.run([qpdf, "--check", str(path)], capture_output=True).returncode != 0


@pytest.mark.slow
def test_pyhankos_command_line_validator_agrees(
    pki: ThrowawayPki, signed: bytes, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca_cert.public_bytes(serialization.Encoding.PEM))
    tool = [sys.executable, "-m", "pyhanko", "sign", "validate", "--trust-replace"]
    good = tmp_path / "good.pdf"
    good.write_bytes(signed)
    checked = subprocess.run([*tool, "--trust", str(ca), str(good)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>,UNTOUCHED" in checked.stdout
    other = tmp_path / "other.pem"
    other.write_bytes(make_test_pki("Another CA").ca_cert.public_bytes(serialization.Encoding.PEM))
    refused = subprocess.run([*tool, "--trust", str(other), str(good)], capture_output=True)
    assert refused.returncode != 0
