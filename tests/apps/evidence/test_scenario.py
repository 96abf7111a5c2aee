"""The evidence scenario against a real server: every token it writes is accepted by `openssl ts
-verify -CAfile tsa-ca.pem` for its file and refused for a changed one, every PDF validates, the
case reads back, and the ledger audits clean with its projections."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from apps.evidence import scenario
from ledger.cli import app
from ledger.documents.signing import validate_pdf
from tests.support.server import demo_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path, dict]]:
    root = tmp_path_factory.mktemp("evidence-scenario")
    with demo_server(root) as (url, home):
        summary = scenario.run(url=url, home=home, out=root / "out")
        yield url, home, root / "out", summary


def test_openssl_accepts_every_token_the_scenario_writes_and_refuses_a_changed_file(
    told, tmp_path: Path
) -> None:
    _, _, out, _ = told
    tokens = sorted(out.glob("*.tsr"))
    assert len(tokens) == 3  # the chapter, the captured page, the appraisal report
    for token in tokens:
        evidence = token.with_suffix("")
        checked = subprocess.run(
            ["openssl", "ts", "-verify", "-data", str(evidence), "-in", str(token),
             "-CAfile", str(out / "tsa-ca.pem")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
        changed = tmp_path / evidence.name
        data = bytearray(evidence.read_bytes())
        data[0] ^= 0x01
        changed.write_bytes(bytes(data))
        refused = subprocess.run(
            ["openssl", "ts", "-verify", "-data", str(changed), "-in", str(token),
             "-CAfile", str(out / "tsa-ca.pem")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert refused.returncode != 0 and "Verification: FAILED" in refused.stdout


def test_every_pdf_certificate_validates(told) -> None:
    _, _, out, _ = told
    ca = x509.load_pem_x509_certificate((out / "tsa-ca.pem").read_bytes())
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 3
    for pdf in pdfs:
        verdict = validate_pdf(pdf.read_bytes(), [ca])
        assert verdict.ok, (pdf.name, verdict.reason)


def test_the_story_is_complete_and_the_ledger_audits_clean(told) -> None:
    url, home, out, summary = told
    assert set(summary["deposits"]) == {"chapter", "capture", "report"}
    assert summary["urls"]["check a file"] == f"{url}/evidence/verify"
    assert (out / "site-x-chapter-12.altered.txt").exists()
    result = CliRunner().invoke(app, ["audit", "--home", str(home), "--projections"])
    assert result.exit_code == 0, result.output
    assert "projections ok" in result.output
