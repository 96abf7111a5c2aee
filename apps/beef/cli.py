"""`sealchain scan IMAGE`: read a label photo, resolve its Digital Link, print the verified
journey. Exit 0 for a known pack, 1 for an unknown code or a failed check, 2 for no QR code."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from apps.beef.identifiers import IdentifierError, parse_pack_uri
from apps.beef.qr import QrError, decode_image
from ledger.core import merkle
from ledger.core.note import parse_checkpoint, parse_note

console = Console(soft_wrap=True)


def scan_command(
    image: Annotated[Path, typer.Argument(help="photo or image of a pack's QR label")],
    url: Annotated[
        str, typer.Option("--url", envvar="SEALCHAIN_URL", help="ledger API base URL")
    ] = ("http://127.0.0.1:8000"),
) -> None:
    """Decode a label photo and print the pack's journey as the ledger records it."""
    try:
        texts = decode_image(image.read_bytes())
    except (OSError, QrError) as e:
        console.print(f"[red]no QR code read[/red]: {e}")
        raise typer.Exit(2) from e
    try:
        pack = next(parse_pack_uri(t) for t in texts if _is_pack(t))
    except StopIteration:
        console.print(f"[red]not a pack's GS1 Digital Link[/red]: {texts}")
        raise typer.Exit(2) from None
    console.print(f"GTIN {pack.gtin} · lot {pack.lot} · serial {pack.serial}")
    try:
        response = httpx.get(url.rstrip("/") + pack.path(), headers={"accept": "application/json"})
    except httpx.HTTPError as e:
        console.print(f"[red]cannot reach {url}[/red]: {e}")
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
    checked = _check_proofs(view)
    console.print(f"[green]{checked} signed entries included in the signed checkpoint[/green]")


def _is_pack(text: str) -> bool:
    try:
        parse_pack_uri(text)
    except IdentifierError:
        return False
    return True


def _check_proofs(view: dict[str, object]) -> int:
    """The entries' inclusion proofs against the checkpoint, offline (signatures and keys are
    checked by `sealchain verify` on a receipt with the consortium's own policy)."""
    proof = view["verification"]
    assert isinstance(proof, dict)
    checkpoint = parse_checkpoint(parse_note(proof["checkpoint"]).text)
    for item in proof["entries"]:
        leaf = merkle.leaf_hash(base64.b64decode(item["entry"]))
        path = [base64.b64decode(p) for p in item["proof"]]
        merkle.verify_inclusion(item["index"], checkpoint.size, leaf, path, checkpoint.root)
    return len(proof["entries"])
