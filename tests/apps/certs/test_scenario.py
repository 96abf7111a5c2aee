"""The certs scenario against a real server, and `sealchain certs verify` on what it wrote:
valid on a date inside the certificate, suspended after the failed surveillance, a forged
credential refused, saved status lists used offline, and the ledger audits clean."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from apps.certs import scenario
from ledger.cli import app
from ledger.documents.signing import validate_pdf
from tests.support.server import demo_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path, dict]]:
    root = tmp_path_factory.mktemp("certs-scenario")
    with demo_server(root) as (url, home):
        summary = scenario.run(url=url, home=home, out=root / "out")
        yield url, home, root / "out", summary


def _verify(url: str, home: Path, path: Path, *options: str) -> tuple[int, str]:
    args = ["certs", "verify", str(path), "--url", url, "--home", str(home), *options]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def test_the_story_answers_every_chosen_date(told) -> None:
    _, _, _, summary = told
    assert summary["statuses"] == scenario.DATES


def test_certs_verify_on_dates_and_with_saved_status_lists(told) -> None:
    url, home, out, summary = told
    first, renewed = summary["certificates"]
    code, output = _verify(url, home, out / f"{renewed}.json", "--at", "2023-06-01")
    assert code == 0 and "VALID" in output, output
    assert "(3) issued on the ledger" in output
    code, output = _verify(url, home, out / f"{first}.json", "--at", "2021-12-01")
    assert code == 1 and "SUSPENDED" in output, output
    lists = [str(p) for p in sorted(out.glob("status-list-*.json"))]
    code, output = _verify(url, home, out / f"{first}.json", "--status-list", lists[0],
                           "--status-list", lists[1])  # fmt: skip
    assert code == 1 and "EXPIRED" in output, output  # today: its three years are over


def test_a_forged_credential_is_not_verified(told, tmp_path: Path) -> None:
    url, home, out, summary = told
    forged = json.loads((out / f"{summary['certificates'][1]}.json").read_text())
    changed = copy.deepcopy(forged)
    changed["credentialSubject"]["model"] = "SP-100 Pro"
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(changed))
    code, output = _verify(url, home, path, "--at", "2023-06-01")
    assert code == 1 and "NOT VERIFIED" in output and "does not verify" in output


def test_the_ledger_audits_clean_with_its_projections(told) -> None:
    _, home, _, _ = told
    result = CliRunner().invoke(app, ["audit", "--home", str(home), "--projections"])
    assert result.exit_code == 0 and "projections ok" in result.output, result.output


def test_out_holds_pdf_certificates_signed_by_the_body(told) -> None:
    _, _, out, summary = told
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    for number in summary["certificates"]:
        verdict = validate_pdf((out / f"{number}.pdf").read_bytes(), [ca], require_timestamp=False)
        assert verdict.ok and "nfcc" in verdict.signer, verdict.reason
