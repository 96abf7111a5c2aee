"""The PDF certificate, checked by tools others wrote: pypdf reads its text, pdfium renders it
and zxing-cpp decodes its QR code to the certificate page, pyhanko validates the body's
signature against the CA the ledger publishes (and its command-line validator agrees), qpdf
checks its structure; one changed byte and the signature no longer holds. Its facts come from
the signed entries: an operator's edit of the projection does not reach it."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pypdf
import pypdfium2
import pytest
import zxingcpp
from cryptography import x509
from sqlalchemy import create_engine, update

from apps.certs import builders
from apps.certs.tables import certificates
from ledger.documents.signing import validate_pdf
from ledger.timestamping.pki import make_pki
from tests.support.certs import REPORT_SHA256, certs_world
from tests.support.server import running_server

pytestmark = pytest.mark.slow
TODAY = datetime.now(UTC).date()


@dataclass
class Served:
    url: str
    number: str
    suspended: str
    ca: x509.Certificate


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("certs-pdf") / "home"
    world = certs_world(home)
    current = {"valid_from": TODAY - timedelta(days=60), "valid_until": TODAY + timedelta(days=600)}
    number = world.certify(number="PBOC-POS-2026-0100", **current)
    suspended = world.certify(number="PBOC-POS-2026-0101", **current)
    world.ok("nfcc", builders.suspend(suspended, TODAY - timedelta(days=2), "surveillance failed"))
    world.node.close()
    # An operator rewrites the projection's model: the PDF must still say what was signed.
    with create_engine(world.node.settings.db_url()).begin() as conn:
        conn.execute(update(certificates).values(model="FORGED-MODEL"))
    with running_server(home) as url:
        ca = x509.load_pem_x509_certificate(httpx.get(url + "/v1/certs/ca.pem").content)
        yield Served(url, number, suspended, ca)


def _pdf(url: str, number: str, language: str = "en") -> bytes:
    answer = httpx.get(
        f"{url}/v1/certs/{number}/certificate.pdf",
        headers={"accept-language": language},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    return answer.content


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_pdf_states_the_signed_certificate_and_its_qr_leads_to_its_page(
    served: Served, language: str
) -> None:
    pdf = _pdf(served.url, served.number, language)
    text = _text(pdf)
    assert served.number in text and "SP-100" in text and "FORGED" not in text
    assert "APP-" + served.number in text and REPORT_SHA256[:16] in text
    page = pypdfium2.PdfDocument(pdf)[0]
    (code,) = zxingcpp.read_barcodes(page.render(scale=2).to_pil())
    assert code.text == f"{served.url}/certs/{served.number}"
    if language == "en":
        assert "Fintech product certificate" in text and "Valid" in text
    else:
        assert "金融科技产品认证证书" in text and "有效" in text


def test_the_pdf_states_the_days_status(served: Served) -> None:
    text = _text(_pdf(served.url, served.suspended))
    assert "Suspended" in text


def test_an_unknown_certificate_is_a_404_problem(served: Served) -> None:
    answer = httpx.get(f"{served.url}/v1/certs/PBOC-NONE-0001/certificate.pdf")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_bodys_signature_validates_and_a_changed_byte_does_not(served: Served) -> None:
    pdf = _pdf(served.url, served.number)
    verdict = validate_pdf(pdf, [served.ca], require_timestamp=False)
    assert verdict.ok, verdict.reason
    assert "nfcc" in verdict.signer and not verdict.timestamp_valid
    assert not validate_pdf(pdf, [served.ca]).ok  # B-B: no timestamp, and said so
    signed_range = re.search(rb"/ByteRange \[0 (\d+) (\d+) (\d+)\]", pdf)
    assert signed_range is not None
    changed = bytearray(pdf)
    changed[int(signed_range.group(1)) // 2] ^= 0x01
    assert not validate_pdf(bytes(changed), [served.ca], require_timestamp=False).ok
    stranger = validate_pdf(pdf, [make_pki("someone else").ca_cert], require_timestamp=False)
    assert not stranger.ok and "trusted" in stranger.reason


def test_qpdf_and_pyhankos_validator_accept_it_and_refuse_a_changed_copy(
    served: Served, tmp_path: Path
) -> None:
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.fail("qpdf is not installed (apt-get install -y qpdf; .ci/run installs it)")
    good = tmp_path / "good.pdf"
    good.write_bytes(_pdf(served.url, served.number, "zh-CN"))
    checked = subprocess.run([qpdf, "--check", str(good)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    pem = tmp_path / "ca.pem"
    pem.write_bytes(httpx.get(served.url + "/v1/certs/ca.pem").content)
    tool = [sys.executable, "-m", "pyhanko", "sign", "validate", "--trust-replace", "--trust",
            str(pem)]  # fmt: skip
    validated = subprocess.run([*tool, str(good)], capture_output=True, text=True)
    assert validated.returncode == 0, validated.stderr
    assert "INTACT:TRUSTED,UNTOUCHED" in validated.stdout
    bad = tmp_path / "bad.pdf"
    changed = bytearray(good.read_bytes())
    changed[len(changed) // 10] ^= 0x01
    bad.write_bytes(bytes(changed))
    assert subprocess.run([*tool, str(bad)], capture_output=True, text=True).returncode != 0
