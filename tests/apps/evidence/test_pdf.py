"""The signed PDF certificate, checked by tools others wrote: pypdf opens it, pdfium renders it
and zxing-cpp decodes its QR code to the verification URL, pyhanko validates its PAdES
signature and timestamp against the CA the ledger publishes, qpdf checks its structure; one
changed byte, or an appended update, and the signature no longer holds."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdf
import pypdfium2
import pytest
import zxingcpp
from cryptography import x509

from apps.evidence import builders
from apps.evidence.demo import AUTHOR, CHAPTER
from apps.evidence.numbers import deposit_number
from ledger.client import LedgerClient
from ledger.documents.signing import validate_pdf
from ledger.home import Home
from tests.support.server import demo_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deposited(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, x509.Certificate]]:
    root = tmp_path_factory.mktemp("evidence-pdf")
    with demo_server(root) as (url, home):
        h = Home(home)
        with LedgerClient(url, AUTHOR, h.member_signer(AUTHOR), h.trust_policy()) as client:
            record = builders.deposit(
                CHAPTER.encode(), title="第十二章 雨夜渡口", media_type="text/plain",
                category="work", operator=AUTHOR,
            )  # fmt: skip
            number = deposit_number(client.submit(*record).index)
        ca = x509.load_pem_x509_certificate(httpx.get(url + "/v1/evidence/tsa-ca.pem").content)
        yield url, number, ca


def _pdf(url: str, number: str, language: str) -> bytes:
    answer = httpx.get(
        f"{url}/v1/evidence/deposits/{number}/certificate.pdf",
        headers={"accept-language": language},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    return answer.content


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_certificate_opens_and_its_qr_code_leads_to_its_page(deposited, language: str) -> None:
    url, number, _ = deposited
    pdf = _pdf(url, number, language)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert number in text and CHAPTER.encode() != b""
    page = pypdfium2.PdfDocument(pdf)[0]
    (code,) = zxingcpp.read_barcodes(page.render(scale=2).to_pil())
    assert code.text == f"{url}/evidence/{number}"
    if language == "en":
        assert "Evidence certificate" in text and "What a court weighs" in text


def test_the_signature_validates_and_a_changed_byte_does_not(deposited) -> None:
    url, number, ca = deposited
    pdf = _pdf(url, number, "en")
    verdict = validate_pdf(pdf, [ca])
    assert verdict.ok, verdict.reason
    assert "evidence-platform" in verdict.signer and verdict.signed_at is not None
    signed_range = re.search(rb"/ByteRange \[0 (\d+) (\d+) (\d+)\]", pdf)
    assert signed_range is not None
    changed = bytearray(pdf)
    changed[int(signed_range.group(1)) // 2] ^= 0x01  # inside the signed bytes, not the signature
    assert not validate_pdf(bytes(changed), [ca]).ok
    appended = validate_pdf(pdf + b"\n% appended after signing\n", [ca])
    assert not appended.ok and "changed after it was signed" in appended.reason
    from ledger.timestamping.pki import make_pki

    stranger = validate_pdf(pdf, [make_pki("someone else").ca_cert])
    assert not stranger.ok and "trusted" in stranger.reason


def test_qpdf_finds_the_structure_sound(deposited, tmp_path: Path) -> None:
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.fail("qpdf is not installed (apt-get install -y qpdf; .ci/run installs it)")
    url, number, _ = deposited
    path = tmp_path / "certificate.pdf"
    path.write_bytes(_pdf(url, number, "zh-CN"))
    checked = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    assert subprocess.run([qpdf, "--check", str(path)], capture_output=True).returncode != 0


def test_pyhankos_command_line_validator_accepts_it_and_refuses_a_changed_copy(
    deposited, tmp_path: Path
) -> None:
    url, number, _ = deposited
    pem = tmp_path / "tsa-ca.pem"
    pem.write_bytes(httpx.get(url + "/v1/evidence/tsa-ca.pem").content)
    good = tmp_path / "good.pdf"
    good.write_bytes(_pdf(url, number, "zh-CN"))
    tool = [
        sys.executable,
        "-m",
        "pyhanko",
        "sign",
        "validate",
        "--trust-replace",
        "--trust",
        str(pem),
    ]
    checked = subprocess.run([*tool, str(good)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>,UNTOUCHED" in checked.stdout
    bad = tmp_path / "bad.pdf"
    changed = bytearray(good.read_bytes())
    changed[len(changed) // 10] ^= 0x01
    bad.write_bytes(bytes(changed))
    refused = subprocess.run([*tool, str(bad)], capture_output=True, text=True)
    assert refused.returncode != 0


def test_a_certificate_is_made_once_per_language(deposited) -> None:
    url, number, _ = deposited
    first = _pdf(url, number, "en")
    size = httpx.get(url + "/v1/checkpoint").json()["size"]
    assert _pdf(url, number, "en") == first
    assert httpx.get(url + "/v1/checkpoint").json()["size"] == size  # no new stamp
