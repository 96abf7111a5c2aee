"""`sealchain scan IMAGE`: read a label photo, resolve its Digital Link, verify the signed
entries offline with the home's trust policy, and print the journey derived from them alone.
Exit 0 for a verified pack, 1 for an unknown
code or a failed check, 2 for no QR code or no server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from apps.beef.identifiers import IdentifierError, parse_pack_uri
from apps.beef.journey import Party, derive
from apps.beef.qr import QrError, decode_image
from ledger.plugin import Home, LedgerError, Settings, verify_page_bundle

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
    view = _ledger_answer(response)
    if view is None:  # nothing to verify: a set-up error (a wrong --url), not a verdict
        console.print(
            f"[red]cannot check[/red]: {escape(url)} did not answer as a Sealchain ledger "
            f"(HTTP {response.status_code})"
        )
        raise typer.Exit(2)
    if view.get("status") == "unknown":
        console.print("[bold red]UNKNOWN CODE[/bold red]: never registered; possibly counterfeit")
        raise typer.Exit(1)
    try:
        verified = verify_page_bundle(view["verification"], trust)
        parties = {org: Party(m.name, frozenset(m.roles)) for org, m in verified.parties.items()}
        facts = derive(verified.entries, pack, parties, lot_proof=view["pack"].get("lotProof"))
    except (LedgerError, KeyError, ValueError, TypeError, AttributeError) as e:
        # A server that answers something else, or another pack's genuine journey, is as
        # untrustworthy as one whose signatures fail.
        console.print(f"[bold red]NOT VERIFIED[/bold red]: {escape(str(e))}")
        raise typer.Exit(1) from e
    product = facts.product
    console.print(
        f"[bold]{escape(product['productName'])}[/bold], {escape(product['origin'])}: "
        f"{escape(facts.message)}"
    )
    table = Table("time", "place", "party", "step")
    for step in facts.steps:
        place = step.place
        text = step.text + (f" (corrected: {step.corrected})" if step.corrected else "")
        party = parties[step.org].name if step.org in parties else step.org
        table.add_row(step.time, f"{place['name']}, {place['city']}", party, text)
    console.print(table)
    console.print(
        f"[green]verified: {len(facts.steps)} steps from {len(verified.entries)} signed "
        f"entries, each by a member key and in the log's checkpoint of size {verified.size} "
        "(your policy), each about this pack[/green]"
    )


def _ledger_answer(response: httpx.Response) -> dict[str, Any] | None:
    """The scan route's JSON (a pack's bundle, or a 404 saying the code is unknown), or None
    for anything else: an HTML page, a proxy's error, another service's JSON."""
    try:
        view = response.json()
    except ValueError:
        return None
    if not isinstance(view, dict) or not isinstance(view.get("pack"), dict):
        return None
    if response.status_code == 404 and view.get("status") == "unknown":
        return view
    if response.status_code == 200 and "verification" in view:
        return view
    return None


def _is_pack(text: str) -> bool:
    try:
        parse_pack_uri(text)
    except IdentifierError:
        return False
    return True
