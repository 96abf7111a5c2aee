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
from rich.markup import escape
from rich.table import Table

from apps.beef.identifiers import IdentifierError, PackId, parse_pack_uri
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
    try:
        view = response.json()
        if response.status_code == 404 or view.get("status") == "unknown":
            console.print(
                "[bold red]UNKNOWN CODE[/bold red]: never registered; possibly counterfeit"
            )
            raise typer.Exit(1)
        checked = _verify_journey(view, trust, pack)
        product = view["product"]
        console.print(
            f"[bold]{escape(product['productName'])}[/bold], {escape(product['origin'])}: "
            f"{escape(view['message'])}"
        )
        table = Table("time", "place", "party", "step")
        for step in view["journey"]:
            place = step["place"]
            table.add_row(
                step["time"], f"{place['name']}, {place['city']}", step["party"], step["step"]
            )
    except (LedgerError, KeyError, ValueError, TypeError, AttributeError) as e:
        # A server that answers something else, or another pack's genuine journey, is as
        # untrustworthy as one whose signatures fail.
        console.print(f"[bold red]NOT VERIFIED[/bold red]: {escape(str(e))}")
        raise typer.Exit(1) from e
    console.print(table)
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


def _verify_journey(view: dict[str, Any], trust: TrustPolicy, pack: PackId) -> int:
    """Every journey entry as a receipt, checked with `verify_receipt` against the caller's own
    trust policy (not the server's); the entries bound to the scanned pack; and the shown
    steps and product against the signed entries."""
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
    lot = _bound_to_pack(by_index, pack)
    for field in ("productName", "origin"):
        if view["product"][field] != lot.get(field):
            raise ValueError(f"the product's {field} is not what was signed at commissioning")
    for step in view["journey"]:
        signed = by_index[step["index"]]["body"]
        if signed["event"]["eventTime"] != step["time"] or signed["place"] != step["place"]:
            raise ValueError(f"the step at {step['time']} is not what was signed")
    return len(by_index)


def _bound_to_pack(entries: dict[int, dict[str, Any]], pack: PackId) -> dict[str, Any]:
    """Each signed entry must be about the scanned pack: it names the pack, a case or container
    an earlier entry packed it into, or its lot (a recall); a correction names such an event.
    Otherwise a server could show another pack's genuine, signed journey for this code. Returns
    the lot data signed when the pack was commissioned, which must be among them."""
    holders, events, lot = {pack.uri()}, set(), None
    for index in sorted(entries):
        entry = entries[index]
        body, event = entry["body"], entry["body"].get("event", {})
        named = set(event.get("epcList", [])) | set(event.get("childEPCs", []))
        parent = event.get("parentID")
        its_lot = (body.get("gtin"), body.get("lot")) == (pack.gtin, pack.lot)
        if named & holders or parent in holders or (entry["type"] == "beef.recall" and its_lot):
            if parent and named & holders and event.get("action") == "ADD":
                holders.add(parent)
            if entry["type"] == "beef.commission" and pack.uri() in named:
                lot = event.get("ilmd", {})
            events.add(event.get("eventID"))
        elif not (entry["type"] == "beef.correct" and body.get("eventID") in events):
            raise ValueError(f"signed entry {index} ({entry['type']}) is not about this pack")
    if lot is None:
        raise ValueError("no signed entry commissions this pack")
    return dict(lot)
