"""`sealchain evidence notarize FILE` and `sealchain evidence verify FILE`.

Both hash the file where it is; only hashes (and, for a text work, its ISCC Text-Code) go to
the ledger. Every receipt the server answers is verified offline with the home's trust policy
before anything is printed as registered. Exit codes follow the CLI's rule (docs/cli.md): 0 ok,
1 a file with no verified registration or an answer that fails verification, 2 usage and
set-up errors (no file, no key, no server).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from apps.evidence import builders
from apps.evidence.numbers import deposit_number
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import receipt_from_json, verify_receipt
from ledger.plugin import Home, LedgerClient, LedgerError, Settings

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
cli = typer.Typer(
    help="Evidence notarization: deposit a file's hashes, check a file against the ledger.",
    no_args_is_help=True,
)

UrlOpt = Annotated[str, typer.Option("--url", envvar="SEALCHAIN_URL", help="ledger API base URL")]
HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="home holding the keys and the trusted policy")
]
DEFAULT_URL = "http://127.0.0.1:8000"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error[/red]: {escape(message)}")
    return typer.Exit(code)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {path}: {e.strerror or e}") from e


@cli.command()
def notarize(
    file: Annotated[Path, typer.Argument(help="the file to deposit (it stays here)")],
    org: Annotated[str, typer.Option("--as", help="depositing org (key: HOME/keys/ORG.pem)")],
    title: Annotated[str | None, typer.Option(help="title (default: the file name)")] = None,
    category: Annotated[str, typer.Option(help="work, evidence or appraisal-report")] = "evidence",
    media_type: Annotated[str | None, typer.Option(help="default: guessed from the name")] = None,
    method: Annotated[str, typer.Option(help="file, web-page, screen-recording, upload")] = "file",
    source_url: Annotated[str | None, typer.Option(help="where a web page was captured")] = None,
    operator: Annotated[str | None, typer.Option(help="who captured it (default: --as)")] = None,
    url: UrlOpt = DEFAULT_URL,
    home: HomeOpt = None,
) -> None:
    """Deposit FILE's hashes; write FILE.receipt.json and its RFC 3161 token FILE.tsr beside it."""
    data = _read(file)
    kind = media_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    settings = Settings() if home is None else Settings(home=home)
    h = Home(settings.home, settings.passphrase())
    try:
        trust = h.trust_policy()
        signer = h.member_signer(org)
        record_type, body = builders.deposit(
            data,
            title=title or file.name,
            media_type=kind,
            category=category,
            method=method,
            tool="sealchain evidence notarize",
            operator=operator or org,
            source_url=source_url,
        )
        with LedgerClient(url, org, signer, trust) as client:
            receipt = client.submit(record_type, body)
            number = deposit_number(receipt.index)
            token = client.http.get(f"/v1/evidence/deposits/{number}/token.tsr")
    except (OSError, LedgerError, httpx.HTTPError) as e:
        raise _fail(getattr(e, "detail", None) or str(e)) from e
    receipt_path = file.with_name(file.name + ".receipt.json")
    receipt_path.write_text(json.dumps(receipt.to_json(), indent=1) + "\n", encoding="utf-8")
    console.print(f"deposited as [bold]{number}[/bold] (receipt verified offline)")
    console.print(f"sha256 {body['sha256']}")
    console.print(str(receipt_path))
    if token.status_code == 200:
        token_path = file.with_name(file.name + ".tsr")
        token_path.write_bytes(token.content)
        console.print(str(token_path))
    else:
        err.print(f"no RFC 3161 token (HTTP {token.status_code}); the receipt stands alone")


def _registrations(
    answer: dict[str, Any], key: str, trust: TrustPolicy, data: bytes | None
) -> list[tuple[dict[str, Any], str]]:
    """(registration, verified checkpoint origin) for each item, each receipt verified offline
    (and, with `data`, checked to commit to exactly these bytes)."""
    out = []
    for item in answer.get(key, []):
        receipt = receipt_from_json(item["receipt"])
        verified = verify_receipt(receipt, trust, data=data)
        if verified.index != item["index"]:
            raise LedgerError(f"{item['number']}: the receipt is for index {verified.index}")
        out.append((item, verified.envelope.org))
    return out


@cli.command()
def verify(
    file: Annotated[Path, typer.Argument(help="the file to check (it is not sent)")],
    url: UrlOpt = DEFAULT_URL,
    home: HomeOpt = None,
) -> None:
    """List every registration of FILE, earliest first, and similar text works; each receipt
    is verified offline. Only hashes (and a text's ISCC code) leave this machine."""
    data = _read(file)
    query: dict[str, Any] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha3_256": hashlib.sha3_256(data).hexdigest(),
    }
    kind = mimetypes.guess_type(file.name)[0] or ""
    # A file of unknown kind may be a text work: it is compared if it reads as UTF-8 text.
    code = builders.text_code_of(data, kind or "text/plain")
    if code is not None:
        query["iscc"] = code
    settings = Settings() if home is None else Settings(home=home)
    try:
        trust = Home(settings.home, settings.passphrase()).trust_policy()
        response = httpx.post(url.rstrip("/") + "/v1/evidence/verify", json=query, timeout=60)
        answer = response.json()
    except (OSError, LedgerError, httpx.HTTPError, ValueError) as e:
        raise _fail(f"cannot check: {e}") from e
    if response.status_code != 200 or not isinstance(answer, dict):
        raise _fail(f"{url} did not answer as a Sealchain ledger (HTTP {response.status_code})")
    try:
        exact = _registrations(answer, "registrations", trust, data)
        similar = _registrations(answer, "similar", trust, None)
    except (LedgerError, KeyError, TypeError, ValueError) as e:
        console.print(f"[bold red]NOT VERIFIED[/bold red]: {escape(str(e))}")
        raise typer.Exit(1) from e
    console.print(f"sha256 {query['sha256']}")
    if exact:
        table = Table("deposit", "registered", "by", "title")
        for item, org in exact:
            table.add_row(
                item["number"], item["time"], f"{item['registrant']} ({org})", item["title"] or ""
            )
        console.print(table)
        console.print(f"[green]{len(exact)} registration(s), each receipt verified offline[/green]")
    else:
        console.print("[bold red]NO REGISTRATION[/bold red] of this file on the ledger")
    if similar:
        table = Table("deposit", "similarity", "registered", "by", "title")
        for item, org in similar:
            table.add_row(
                item["number"],
                f"{item['similarity']:.0%}",
                item["time"],
                f"{item['registrant']} ({org})",
                item["title"] or "",
            )
        console.print("similar text works registered earlier or later (receipts verified):")
        console.print(table)
    if not exact:
        raise typer.Exit(1)
