"""`sealchain scan IMAGE`: read a label photo, resolve its Digital Link, print the journey and
verify it offline with the home's trust policy. Exit 0 for a verified pack, 1 for an unknown
code or a failed check, 2 for no QR code or no server."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from apps.beef.identifiers import IdentifierError, parse_pack_uri
from apps.beef.qr import QrError, decode_image
from ledger.config import Settings
from ledger.core.canonical import parse_strict
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import Receipt, verify_receipt
from ledger.errors import LedgerError
from ledger.home import Home

console = Console(soft_wrap=True)


def scan_command(
    image: Annotated[Path, typer.Argument(help="photo or image of a pack's QR label")],
    url: Annotated[
        str, typer.Option("--url", envvar="SEALCHAIN_URL", help="ledger API base URL")
    ] = ("http://127.0.0.1:8000"),
    home: Annotated[
        Path | None,
        typer.Option("--home", help="home whose policy.txt and members.txt are trusted"),
    ] = None,
) -> None:
    """Decode a label photo, fetch the pack's journey and verify every step offline."""
    try:
        texts = decode_image(image.read_bytes())
    except (OSError, QrError) as e:
        console.print(f"[red]no QR code read[/red]: {e}")
        raise typer.Exit(2) from e
    packs = [parse_pack_uri(t) for t in texts if _is_pack(t)]
    if not packs:
        console.print(f"[red]not a pack's GS1 Digital Link[/red]: {texts}")
        raise typer.Exit(2)
    pack = packs[0]
    console.print(f"GTIN {pack.gtin} · lot {pack.lot} · serial {pack.serial}")
    try:
        trust = Home(home or Settings().home).trust_policy()
        response = httpx.get(url.rstrip("/") + pack.path(), headers={"accept": "application/json"})
    except (OSError, LedgerError, httpx.HTTPError) as e:
        console.print(f"[red]cannot check[/red]: {e}")
        raise typer.Exit(2) from e
    view = response.json()
    if response.status_code == 404 or view.get("status") == "unknown":
        console.print("[bold red]UNKNOWN CODE[/bold red]: never registered; possibly counterfeit")
        raise typer.Exit(1)
    product = view["product"]
    console.print(f"[bold]{product['productName']}[/bold], {product['origin']}: {view['message']}")
    table = Table("time", "place", "party", "step")
    for step in view["journey"]:
        place = step["place"]
        table.add_row(
            step["time"], f"{place['name']}, {place['city']}", step["party"], step["step"]
        )
    console.print(table)
    try:
        checked = _verify_journey(view, trust)
    except (LedgerError, KeyError, ValueError) as e:
        console.print(f"[bold red]NOT VERIFIED[/bold red]: {e}")
        raise typer.Exit(1) from e
    console.print(
        f"[green]verified: {checked} signed entries, each by a member key, in the log's "
        "signed checkpoint (your policy)[/green]"
    )


def _is_pack(text: str) -> bool:
    try:
        parse_pack_uri(text)
    except IdentifierError:
        return False
    return True


def _verify_journey(view: dict[str, Any], trust: TrustPolicy) -> int:
    """Every journey entry as a receipt, checked with `verify_receipt` against the caller's own
    trust policy (not the server's), and the shown steps against the signed entries."""
    proof = view["verification"]
    by_index = {}
    for item in proof["entries"]:
        entry = parse_strict(base64.b64decode(item["entry"]))
        receipt = Receipt(
            entry,
            item["index"],
            tuple(base64.b64decode(p) for p in item["proof"]),
            proof["checkpoint"],
        )
        verify_receipt(receipt, trust)
        by_index[item["index"]] = entry
    for step in view["journey"]:
        signed = by_index[step["index"]]["body"]
        if signed["event"]["eventTime"] != step["time"] or signed["place"] != step["place"]:
            raise ValueError(f"the step at {step['time']} is not what was signed")
    return len(by_index)
