"""`sealchain certs verify CREDENTIAL.json [--at DATE]`: check a certificate credential offline
(apps/certs/offline.py). Exit 0 for a credential that verifies and is valid; 1 when it fails
verification or its status is not valid; 2 for set-up errors (docs/cli.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from apps.certs import offline
from apps.certs.credentials import verify_credential
from ledger.plugin import Home, LedgerError, Settings

console = Console(soft_wrap=True)
cli = typer.Typer(help="Fintech product certificates: verify a credential.", no_args_is_help=True)


def _json_file(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        console.print(f"[red]error[/red]: cannot read {escape(str(path))}: {escape(str(e))}")
        raise typer.Exit(2) from e
    if not isinstance(value, dict):
        console.print(f"[red]error[/red]: {escape(str(path))} is not a JSON object")
        raise typer.Exit(2)
    return value


@cli.command()
def verify(
    credential_file: Annotated[Path, typer.Argument(metavar="CREDENTIAL.json")],
    at: Annotated[str | None, typer.Option(help="status on this date (YYYY-MM-DD)")] = None,
    url: Annotated[str, typer.Option(envvar="SEALCHAIN_URL", help="ledger API base URL")] = (
        "http://127.0.0.1:8000"
    ),
    status_list: Annotated[
        list[Path] | None,
        typer.Option(help="saved status list credentials (revocation and suspension)"),
    ] = None,
    home: Annotated[Path | None, typer.Option(help="home whose trust policy is used")] = None,
) -> None:
    """Check a credential: its proof, its issuer's key, its issue on the ledger, its status."""
    credential = _json_file(credential_file)
    if at is not None:
        try:
            date.fromisoformat(at)
        except ValueError as e:
            console.print(f"[red]error[/red]: --at {escape(at)} is not YYYY-MM-DD")
            raise typer.Exit(2) from e
    settings = Settings() if home is None else Settings(home=home)
    try:
        trust = Home(settings.home, settings.passphrase()).trust_policy()
    except (OSError, LedgerError) as e:
        console.print(f"[red]error[/red]: {escape(str(e))}")
        raise typer.Exit(2) from e
    try:
        checked = offline.check_credential(credential, trust)
        number = checked.subject.number
        with httpx.Client(base_url=url, timeout=30) as http:
            found = http.get(f"/v1/certs/{number}")
            if found.status_code != 200:
                raise LedgerError(f"the ledger at {url} has no certificate {number}")
            issue_receipt = found.json()["status"]["receipts"][0]
            offline.check_on_ledger(checked, credential, issue_receipt, trust)
            if at is not None:
                answer = http.get(f"/v1/certs/{number}/status", params={"at": at}).json()
                offline.status_from_ledger(checked, answer, trust)
            else:
                lists = _lists(http, checked.subject.status_lists, status_list or [])
                today = datetime.now(UTC).date()
                offline.status_from_lists(checked, lists, verify_credential(credential), today)
    except httpx.HTTPError as e:
        console.print(f"[red]error[/red]: cannot reach {escape(url)}: {escape(str(e))}")
        raise typer.Exit(2) from e
    except (LedgerError, KeyError, TypeError, ValueError) as e:
        console.print(f"[bold red]NOT VERIFIED[/bold red]: {escape(str(e))}")
        raise typer.Exit(1) from e
    for step in checked.steps:
        console.print(f"  {escape(step)}")
    subject = checked.subject
    console.print(
        f"{escape(subject.number)}: {escape(subject.product_name)} {escape(subject.model)} "
        f"({escape(subject.product_type)}) by {escape(subject.manufacturer)}, certified by "
        f"{escape(subject.body)}: [bold]{checked.status.upper()}[/bold]"
    )
    if checked.status != "valid":
        raise typer.Exit(1)


def _lists(http: httpx.Client, urls: dict[str, str], saved: list[Path]) -> dict[str, Any]:
    """The status list credentials by purpose: the saved files, else fetched from their URLs."""
    lists: dict[str, Any] = {}
    for path in saved:
        listed = _json_file(path)
        lists[listed["credentialSubject"]["statusPurpose"]] = listed
    for purpose, address in urls.items():
        if purpose not in lists:
            lists[purpose] = http.get(address).json()
    return lists
