"""`sealchain scenario evidence`: an online novel's chapter, copied, captured, sued over and
judged at the Hangzhou Internet Court, told against a running server, each party signing with
its own key.

Author Li registers chapter 12 (only its hashes and ISCC text code reach the ledger). Months
later site X publishes a lightly edited copy; the evidence platform captures the page and
deposits it. Li sues; the court opens the case, both deposits are submitted, the court checks
them (exact registration, and the earlier similar work), sends the capture for appraisal,
admits both, records the judgment's hash and seals the case. A second thread alters the
captured page by one byte after deposit: it has no registration, and its receipt refuses it.

`--out DIR` receives each evidence file with its RFC 3161 token beside it (FILE, FILE.tsr), its
PDF certificate, and tsa-ca.pem for `openssl ts -verify -CAfile`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from apps.evidence import builders as b
from apps.evidence.demo import (
    APPRAISER,
    AUTHOR,
    CASE_TITLE,
    CAUSE,
    CHAPTER,
    COURT,
    INFRINGER,
    INFRINGING_URL,
    PLATFORM,
    infringing_copy,
)
from apps.evidence.numbers import deposit_number
from ledger.core.receipt import receipt_from_json, verify_receipt
from ledger.plugin import Home, LedgerClient, LedgerError

HTTP_TIMEOUT = 30.0


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Story:
    def __init__(self, url: str, home: Path, out: Path, console: Console) -> None:
        self.url, self.out, self.console = url.rstrip("/"), out, console
        self.home = Home(home)
        self.policy = self.home.trust_policy()
        self.clients: dict[str, LedgerClient] = {}
        self.http = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT)
        self.entries = 0
        self.now = datetime.now(UTC)

    def client(self, org: str) -> LedgerClient:
        if org not in self.clients:
            key = self.home.member_signer(org)
            self.clients[org] = LedgerClient(self.url, org, key, self.policy, timeout=HTTP_TIMEOUT)
        return self.clients[org]

    def record(self, org: str, record: tuple[str, dict[str, Any]]) -> int:
        """Submit one record; its receipt is verified offline; returns its index."""
        receipt = self.client(org).submit(*record)
        self.entries += 1
        return receipt.index

    def deposit(self, org: str, name: str, data: bytes, **kw: Any) -> str:
        """Write the file to --out, deposit its hashes, fetch its token and PDF certificate."""
        (self.out / name).write_bytes(data)
        number = deposit_number(self.record(org, b.deposit(data, operator=org, **kw)))
        for suffix, path in ((".tsr", "token.tsr"), (".pdf", "certificate.pdf")):
            got = self.http.get(f"/v1/evidence/deposits/{number}/{path}")
            got.raise_for_status()
            (self.out / (name + suffix)).write_bytes(got.content)
        return number

    def check(self, data: bytes, text: bool) -> dict[str, Any]:
        query: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest()}
        code = b.text_code_of(data, "text/plain") if text else None
        if code is not None:
            query["iscc"] = code
        answer: dict[str, Any] = self.http.post("/v1/evidence/verify", json=query).json()
        return answer

    def close(self) -> None:
        self.http.close()
        for client in self.clients.values():
            client.close()


def run(*, url: str, home: Path, out: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    story = Story(url, home, out, console)
    try:
        return _tell(story)
    finally:
        story.close()


def _tell(s: Story) -> dict[str, Any]:
    say = s.console.print
    ca = s.http.get("/v1/evidence/tsa-ca.pem")
    ca.raise_for_status()
    (s.out / "tsa-ca.pem").write_bytes(ca.content)
    # Each run is its own case: a demo home may hear the story more than once.
    case = f"(2026)浙0192民初{int(s.now.timestamp()) % 100000:05d}号"

    chapter = s.deposit(
        AUTHOR,
        "chapter-12.txt",
        CHAPTER.encode(),
        title="第十二章 雨夜渡口 (chapter 12)",
        media_type="text/plain",
        category="work",
        captured_at=_iso(s.now - timedelta(days=120)),
        tool="author's word processor",
    )
    say(f"[bold]{AUTHOR}[/bold] registers chapter 12 of the novel: {chapter}")
    say("  only its SHA-256, SHA3-256 and ISCC text code reach the ledger; the text stays home")

    copy = infringing_copy().encode()
    capture = s.deposit(
        PLATFORM,
        "site-x-chapter-12.txt",
        copy,
        title="site-x.example: chapter 12 as published",
        media_type="text/plain",
        method="web-page",
        source_url=INFRINGING_URL,
        tool="preservation browser 3.2 (clean VM, trusted time)",
    )
    say(
        f"months later [bold]{INFRINGER}[/bold] publishes a lightly edited copy at {INFRINGING_URL}"
    )
    say(f"  [bold]{PLATFORM}[/bold] captures the page and deposits it: {capture}")

    s.record(COURT, b.open_case(case, CASE_TITLE, CAUSE, [AUTHOR, INFRINGER]))
    say(f"[bold]{COURT}[/bold] opens case {case}: {AUTHOR} v. {INFRINGER}")
    s.record(AUTHOR, b.submit(case, chapter, "the registered chapter"))
    s.record(AUTHOR, b.submit(case, capture, "the platform's capture of the copy"))
    say("  the author submits both deposits")

    checked = s.check(copy, text=True)
    exact = [r["number"] for r in checked["registrations"]]
    earlier = [r for r in checked["similar"] if r["index"] < int(capture[3:])]
    if capture not in exact or chapter not in [r["number"] for r in earlier]:
        raise LedgerError(f"the court's check did not find the deposits: {checked}")
    best = next(r for r in earlier if r["number"] == chapter)
    say(
        f"  the court checks the captured page: registered as {capture}; an earlier similar "
        f"work {chapter} by {best['registrant']} ({best['similarity']:.0%} similar)"
    )
    for number in (chapter, capture):
        s.record(COURT, b.custody(case, "received", number))
        s.record(COURT, b.custody(case, "examined", number))
    s.record(COURT, b.custody(case, "appraisal", capture, appraiser=APPRAISER))
    report = s.deposit(
        APPRAISER,
        "appraisal-report.txt",
        f"Appraisal of {capture}: capture environment clean, its time trusted.\n".encode(),
        title="司法鉴定意见书 (appraisal report)",
        media_type="text/plain",
        category="appraisal-report",
    )
    s.record(APPRAISER, b.submit(case, report))
    say(f"  sent for appraisal to {APPRAISER}, whose report is deposited and submitted: {report}")
    s.record(COURT, b.custody(case, "admitted", chapter))
    s.record(COURT, b.custody(case, "admitted", capture))
    judgment = f"{case} 判决书: 被告停止侵权并赔偿原告经济损失。\n".encode()
    (s.out / "judgment.txt").write_bytes(judgment)
    s.record(COURT, b.judgment(case, "民事判决书 (judgment)", judgment))
    s.record(COURT, b.custody(case, "sealed"))
    say("  both admitted; the judgment's hash is recorded and the case sealed")
    view = s.client(AUTHOR).member_get(f"/v1/evidence/cases/{case}")
    say(f"  the author reads the case: {len(view['events'])} events, each with its receipt")

    altered = bytearray(copy)
    altered[10] ^= 0x01
    (s.out / "site-x-chapter-12.altered.txt").write_bytes(bytes(altered))
    after = s.check(bytes(altered), text=False)
    (original,) = (r for r in s.check(copy, text=False)["registrations"] if r["number"] == capture)
    try:
        verify_receipt(receipt_from_json(original["receipt"]), s.policy, data=bytes(altered))
        raise LedgerError("the altered file passed its receipt")
    except LedgerError as e:
        why = e.detail
    say(
        f"[bold]tampering[/bold]: the capture altered by one byte has "
        f"{len(after['registrations'])} registrations, and against {capture}'s receipt: {why}"
    )
    base = s.url
    summary = {
        "case": case,
        "deposits": {"chapter": chapter, "capture": capture, "report": report},
        "entries": s.entries,
        "urls": {
            "check a file": f"{base}/evidence/verify",
            "certificate of the captured page": f"{base}/evidence/{capture}",
            "certificate PDF": f"{base}/v1/evidence/deposits/{capture}/certificate.pdf",
        },
        "files": sorted(p.name for p in s.out.iterdir()),
    }
    (s.out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), "utf-8")
    return summary
