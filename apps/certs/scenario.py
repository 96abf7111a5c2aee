"""`sealchain scenario certs`: a bank's POS terminal certified in 2019 under the PBoC catalog,
kept under surveillance, suspended and reinstated, renewed in 2022 under the 2022 catalog, told
against a running server, each party signing with its own key.

The authority (PBoC) accredits two bodies with different scopes; the maker applies to NFCC, a
lab's first test fails and NFCC cannot certify on it, the retest passes and NFCC certifies the
terminal in November 2019; a firmware update is recorded as a change; surveillance passes in
2020 and fails in 2021, so NFCC suspends it, and reinstates it once fixed; NFCC's attempt to
certify a barcode payment terminal, outside its scope, is refused; a forged credential (its
model name changed) fails; the certificate is renewed in 2022 after a new application and lab
test; and the status on chosen dates is asked and checked. `--out DIR` receives every
credential, the status list credentials as JSON and the signed PDF certificates.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from apps.certs import builders as b
from apps.certs import offline
from apps.certs.credentials import CredentialInvalid
from apps.certs.subject import read_subject
from ledger.plugin import Home, LedgerClient, LedgerError

HTTP_TIMEOUT = 30.0
AUTHORITY, NFCC, BCTC, MAKER, QR_MAKER = "pboc", "nfcc", "bctc", "pos-maker", "qr-terminal-maker"
LAB = "lab-one"
DATES = {
    "2019-11-14": "not-yet-valid",
    "2019-11-15": "valid",
    "2021-11-19": "valid",  # the surveillance failed on the 8th; the body acted on the 20th
    "2021-11-20": "suspended",
    "2022-01-15": "valid",
    "2022-11-14": "valid",
    "2022-11-15": "expired",
}


def _report(name: str) -> tuple[str, str]:
    """A lab report's hash and title: the report itself stays with the lab."""
    text = f"Test report {name}: EMV level 1 and 2, PCI PTS, PBoC JR/T 0001".encode()
    return hashlib.sha256(text).hexdigest(), f"Test report {name}"


def _refused(client: LedgerClient, rec: tuple[str, dict[str, Any]], reason: str) -> str:
    """Submit what the rules must refuse, and say why they did."""
    try:
        client.submit(*rec)
    except LedgerError as e:
        if reason not in e.detail:
            raise
        return e.detail
    raise LedgerError(f"{rec[0]} was accepted; it should have been refused ({reason})")


def run(*, url: str, home: Path, out: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    h = Home(home)
    trust = h.trust_policy()
    signers = {org: h.member_signer(org) for org in (AUTHORITY, NFCC, BCTC, MAKER, QR_MAKER, LAB)}
    clients = {
        org: LedgerClient(url, org, s, trust, timeout=HTTP_TIMEOUT) for org, s in signers.items()
    }
    say = console.print
    entries = 0
    # Each run its own numbers and status indexes: a demo home may hear the story twice.
    run_id = int(httpx.get(url + "/v1/checkpoint", timeout=HTTP_TIMEOUT).json()["size"])
    first, renewed = f"PBOC-POS-2019-{run_id:05d}", f"PBOC-POS-2022-{run_id:05d}"
    try:

        def record(org: str, rec: tuple[str, dict[str, Any]]) -> None:
            nonlocal entries
            clients[org].submit(*rec)
            entries += 1

        record(
            AUTHORITY,
            b.accredit(NFCC, ["pos", "atm", "mobile-tee"], date(2019, 1, 1), date(2025, 12, 31)),
        )
        record(
            AUTHORITY,
            b.accredit(
                BCTC, ["barcode-terminal", "client-software"], date(2019, 1, 1), date(2025, 12, 31)
            ),
        )
        say(
            f"[bold]{AUTHORITY}[/bold] accredits {NFCC} (POS, ATM, TEE) and {BCTC} "
            "(barcode terminals, client software)"
        )

        def credential(number: str, index: int, **kw: Any) -> dict[str, Any]:
            fields: dict[str, Any] = {
                "number": number, "product_type": "pos", "catalog": "2019",
                "product_name": "SmartPOS bank terminal", "model": "SP-100", "version": "1.0",
                "manufacturer": MAKER, "body": NFCC, "valid_from": date(2019, 11, 15),
                "valid_until": date(2022, 11, 14), "status_index": index, "base_url": url,
            }  # fmt: skip
            fields.update(kw)
            return b.credential(signers[fields["body"]], **fields)

        issued = credential(first, 2 * (run_id % 60000))
        application = f"APP-2019-{run_id:05d}"
        record(MAKER, b.application_for(application, date(2019, 9, 2), issued))
        say(f"[bold]{MAKER}[/bold] applies to {NFCC} for its POS terminal SP-100: {application}")
        record(LAB, b.lab_report(application, date(2019, 10, 8), "fail", *_report("SP-100 #1")))
        refused = _refused(clients[NFCC], b.issue(issued, application), "is a fail")
        say(f"  {LAB}'s test fails on 2019-10-08; {NFCC} cannot certify on it: {refused}")
        record(LAB, b.lab_report(application, date(2019, 10, 30), "pass", *_report("SP-100 #2")))
        record(NFCC, b.issue(issued, application))
        say(
            f"  the retest passes on 2019-10-30; [bold]{NFCC}[/bold] certifies it: {first}, "
            "2019-11-15 to 2022-11-14"
        )
        record(NFCC, b.change(first, date(2020, 6, 15), "firmware update", version="1.1"))
        say("  a firmware update (version 1.0 to 1.1) is recorded as a change on 2020-06-15")
        record(NFCC, b.surveil(first, date(2020, 11, 10), "pass", "annual surveillance"))
        record(NFCC, b.surveil(first, date(2021, 11, 8), "fail", "key injection process"))
        record(NFCC, b.suspend(first, date(2021, 11, 20), "surveillance of 2021-11-08 failed"))
        record(NFCC, b.reinstate(first, date(2022, 1, 15)))
        say(
            "  surveillance passes in 2020, fails on 2021-11-08: suspended 11-20, "
            "reinstated 2022-01-15"
        )

        out_of_scope = credential(
            f"PBOC-QR-2020-{run_id:05d}",
            2 * (run_id % 60000) + 1,
            product_type="barcode-terminal",
            manufacturer=QR_MAKER,
            valid_from=date(2020, 3, 1),
            valid_until=date(2023, 2, 28),
        )
        qr_application = f"APP-2020-{run_id:05d}"
        record(QR_MAKER, b.application_for(qr_application, date(2020, 1, 6), out_of_scope))
        record(BCTC, b.lab_report(qr_application, date(2020, 2, 10), "pass", *_report("QR-1")))
        refused = _refused(clients[NFCC], b.issue(out_of_scope, qr_application), "not accredited")
        say(f"  {NFCC} tries to certify a barcode payment terminal: refused ({refused})")

        forged = copy.deepcopy(issued)
        forged["credentialSubject"]["model"] = "SP-100 Pro"
        try:
            offline.check_credential(forged, trust)
            raise LedgerError("a forged credential verified")
        except CredentialInvalid as e:
            say(f"  a forged credential (model 'SP-100 Pro'): {e.detail}")

        renewal = credential(
            renewed,
            2 * (run_id % 60000) + 1,
            catalog="2022",
            previous=first,
            version="1.1",
            valid_from=date(2022, 11, 1),
            valid_until=date(2025, 10, 31),
        )
        renewal_application = f"APP-2022-{run_id:05d}"
        record(MAKER, b.application_for(renewal_application, date(2022, 8, 1), renewal))
        record(BCTC, b.lab_report(renewal_application, date(2022, 10, 12), "pass",
                                  *_report("SP-100 2022")))  # fmt: skip
        record(NFCC, b.issue(renewal, renewal_application))
        say(f"  renewed on 2022-11-01 under the 2022 catalog: {renewed}, to 2025-10-31")

        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
            answers = {}
            for day, expected in DATES.items():
                answer = http.get(f"/v1/certs/{first}/status", params={"at": day}).json()
                checked = offline.Checked(read_subject(issued))
                offline.status_from_ledger(checked, answer, trust)
                if checked.status != expected:
                    raise LedgerError(f"{first} on {day}: {checked.status}, expected {expected}")
                answers[day] = checked.status
            say(
                "  status of " + first + " on: " + ", ".join(f"{d} {s}" for d, s in answers.items())
            )
            for purpose in ("revocation", "suspension"):
                listed = http.get(f"/v1/certs/status-lists/{NFCC}/{purpose}").json()
                (out / f"status-list-{NFCC}-{purpose}.json").write_text(
                    json.dumps(listed, indent=1)
                )
            for name in (first, renewed):
                pdf = http.get(f"/v1/certs/{name}/certificate.pdf")
                pdf.raise_for_status()
                (out / f"{name}.pdf").write_bytes(pdf.content)
            (out / "ca.pem").write_bytes(http.get("/v1/certs/ca.pem").content)
        for name, document in ((first, issued), (renewed, renewal)):
            (out / f"{name}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False))
        summary = {
            "certificates": [first, renewed],
            "entries": entries,
            "statuses": answers,
            "urls": {
                "certificate page (renewed)": f"{url}/certs/{renewed}",
                "certificate page (suspended in 2021)": f"{url}/certs/{first}",
                "certificate JSON": f"{url}/v1/certs/{renewed}",
                "certificate PDF": f"{url}/v1/certs/{renewed}/certificate.pdf",
                "status on 2021-12-01": f"{url}/v1/certs/{first}/status?at=2021-12-01",
                "NFCC revocation list": f"{url}/v1/certs/status-lists/{NFCC}/revocation",
            },
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary
    finally:
        for client in clients.values():
            client.close()
