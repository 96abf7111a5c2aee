"""The `sealchain` command. Exit codes: 0 ok, 1 verification failed, 2 usage or set-up error.

Apps add sub-commands through their App.cli (a typer app) found by entry point.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.config import Settings
from ledger.core.keys import Signer
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import STEPS, load_receipt, verify_receipt
from ledger.errors import LedgerError, ReceiptInvalid
from ledger.home import Home, write_private

app = typer.Typer(
    name="sealchain",
    help="Sealchain: a permissioned, hash-chained, publicly verifiable ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create and show Ed25519 signing keys.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print ratios against a same-run baseline.")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="ledger home (default $SEALCHAIN_HOME or ./.sealchain)"),
]


def _settings(home: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"home": home}) if home is not None else settings


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@app.command()
def init(
    home: HomeOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="the demo consortium of DESIGN 4")] = False,
    namespace: Annotated[str, typer.Option(help="key-name namespace")] = "sealchain.local",
    admin: Annotated[str, typer.Option(help="admin org id (without --demo)")] = "admin",
) -> None:
    """Create a ledger home: keys (mode 0600), genesis, policy.txt, members.txt, database."""
    from ledger.service.consortium import demo_plan, single_admin_plan
    from ledger.service.node import init_home

    settings = _settings(home)
    plan = demo_plan() if demo else single_admin_plan(namespace, admin)
    try:
        node, _ = init_home(settings, plan)
    except LedgerError as e:
        raise _fail(e.detail) from e
    node.close()
    _describe_home(Home(settings.home), len(plan.orgs), len(plan.witnesses))


def _describe_home(home: Home, orgs: int, witnesses: int) -> None:
    console.print(f"[bold]Ledger home[/bold] {home.root.resolve()}")
    console.print("  ledger.db     SQLite database with the genesis block (block 0)")
    console.print("  genesis.json  the signed consortium configuration")
    console.print("  policy.txt    trust policy (C2SP tlog-policy): log key, witnesses, quorum")
    console.print("  members.txt   member signing keys as the ledger defines them")
    console.print("  log.pem       checkpoint signing key (mode 0600)")
    console.print(f"  keys/         {orgs} member keys (mode 0600)")
    if witnesses:
        console.print(f"  witnesses/    {witnesses} witness cosigning keys (mode 0600)")


@app.command()
def demo(
    home: HomeOpt = None,
    check: Annotated[bool, typer.Option("--check", help="audit and exit")] = False,
) -> None:
    """Initialise the demo consortium if needed and say what is there."""
    from ledger.service.audit import audit as run_audit
    from ledger.service.consortium import demo_plan
    from ledger.service.node import init_home, open_node

    settings = _settings(home)
    plan = demo_plan()
    if Home(settings.home).exists():
        node = open_node(settings, writable=False)
        console.print(f"Demo home already initialised at {settings.home.resolve()}")
    else:
        node, _ = init_home(settings, plan)
        console.print("Initialised the demo consortium:")
    _describe_home(node.home, len(plan.orgs), len(plan.witnesses))
    result = run_audit(node.engine, node.registry, log_key=node.home.log_policy().logs[0])
    node.close()
    console.print(
        f"Audit: {'ok' if result.ok else 'FAILED'}: {result.entries} entries, "
        f"{result.blocks} blocks, {result.checkpoints} checkpoints"
    )
    console.print("Members: " + ", ".join(o.org for o in plan.orgs))
    console.print("Next: `sealchain audit`, `sealchain keys show`, `sealchain bench core`.")
    if check and not result.ok:
        raise typer.Exit(1)


@app.command()
def audit(home: HomeOpt = None) -> None:
    """Re-verify every entry, node, block and checkpoint; exit 1 naming the first fault."""
    from ledger.service.audit import audit as run_audit
    from ledger.service.node import open_node

    settings = _settings(home)
    try:
        node = open_node(settings, writable=False)
        log_key = node.home.log_policy().logs[0]
    except LedgerError as e:
        raise _fail(e.detail) from e
    with _progress() as progress:
        task = progress.add_task("auditing", total=None)
        result = run_audit(
            node.engine,
            node.registry,
            log_key=log_key,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    node.close()
    summary = (
        f"{result.entries} entries, {result.blocks} blocks, {result.checkpoints} checkpoints, "
        f"{result.cosignatures} cosignatures"
    )
    if result.ok:
        console.print(f"[green]audit ok[/green]: {summary}")
        return
    console.print(f"[red]audit FAILED[/red] at {result.where}: {result.first_bad}")
    console.print(f"verified before the fault: {summary}")
    raise typer.Exit(1)


@app.command()
def reindex(home: HomeOpt = None) -> None:
    """Rebuild every projection (members, keys, nonces, app state) from the entries."""
    from ledger.service.node import open_node
    from ledger.service.reindex import reindex as run_reindex

    try:
        node = open_node(_settings(home), writable=False)
    except LedgerError as e:
        raise _fail(e.detail) from e
    with _progress() as progress:
        task = progress.add_task("reindexing", total=None)
        count = run_reindex(
            node.engine,
            node.registry,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    node.write_members_file()
    node.close()
    console.print(f"reindexed {count} entries")


@app.command()
def verify(
    receipt: Annotated[Path, typer.Argument(help="receipt: JSON or c2sp.org/tlog-proof@v1 text")],
    file: Annotated[
        Path | None, typer.Option("--file", help="data whose SHA-256 the entry commits to")
    ] = None,
    policy: Annotated[Path | None, typer.Option(help="tlog-policy (default: home's)")] = None,
    members: Annotated[Path | None, typer.Option(help="members.txt (default: home's)")] = None,
    home: HomeOpt = None,
) -> None:
    """Verify a receipt offline: signature, inclusion, checkpoint, quorum, optional data."""
    settings_home = Home(_settings(home).home)
    policy_path = policy or settings_home.policy_path
    members_path = members or settings_home.members_path
    try:
        trust = TrustPolicy.from_texts(
            policy_path.read_text(encoding="utf-8"), members_path.read_text(encoding="utf-8")
        )
        data = file.read_bytes() if file else None
        raw = receipt.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(e.detail) from e
    try:
        result = verify_receipt(load_receipt(raw), trust, data=data)
    except ReceiptInvalid as e:
        for step in range(1, e.step):
            console.print(f"  [green]ok[/green]   ({step}) {STEPS[step]}")
        label = STEPS.get(e.step, "receipt format")
        console.print(f"  [red]FAIL[/red] ({e.step}) {label}: {e.detail}")
        raise typer.Exit(1) from e
    for step, label in result.steps:
        console.print(f"  [green]ok[/green]   ({step}) {label}")
    env = result.envelope
    console.print(
        f"[green]verified[/green]: {env.type} by {env.org} at index {result.index} "
        f"in tree size {result.checkpoint.size} (tx {env.tx_id})"
    )


@keys_app.command("new")
def keys_new(
    org: Annotated[str, typer.Argument(help="org id the key is for")],
    out: Annotated[Path | None, typer.Option(help="PEM path (default: HOME/keys/ORG.pem)")] = None,
    namespace: Annotated[
        str, typer.Option(help="key name is NAMESPACE/org/ORG")
    ] = "sealchain.demo",
    home: HomeOpt = None,
) -> None:
    """Generate an Ed25519 key (PKCS#8 PEM, mode 0600) and print its vkey."""
    settings = _settings(home)
    target = out or Home(settings.home).org_key_path(org)
    if target.exists():
        raise _fail(f"{target} exists; refusing to overwrite a key")
    signer = Signer.generate(f"{namespace}/org/{org}")
    write_private(target, signer.to_pem(settings.passphrase()))
    console.print(f"wrote {target} (mode 0600)")
    console.print(signer.vkey)


@keys_app.command("show")
def keys_show(
    org: Annotated[str | None, typer.Argument(help="org id (default: all in the home)")] = None,
    home: HomeOpt = None,
) -> None:
    """Print the vkey of the home's keys (the log key, then member keys)."""
    settings = _settings(home)
    h = Home(settings.home, settings.passphrase())
    try:
        names = {k.org: k.verifier.name for k in h.trust_policy().members.keys}
        if org is None:
            console.print(f"log {h.log_signer().vkey}")
        paths = [h.org_key_path(org)] if org else sorted((h.root / "keys").glob("*.pem"))
        for path in paths:
            who = path.stem
            signer = h.org_signer(who, names.get(who, f"sealchain.local/org/{who}"))
            console.print(f"{who} {signer.vkey}")
    except LedgerError as e:
        raise _fail(e.detail) from e


@bench_app.command("core")
def bench_core(
    quick: Annotated[bool, typer.Option(help="smaller sizes, for a smoke run")] = False,
) -> None:
    """Ed25519 vs envelope checks, sequencer vs executemany, proof time at 10^3..10^6."""
    from ledger.bench.core import run

    run(quick=quick, out=console)


def _add_app_commands() -> None:
    from ledger.service.app import discover_apps

    try:
        for found in discover_apps():
            if found.cli is not None:
                app.add_typer(found.cli, name=found.name)
    except LedgerError as e:  # a broken plugin must not take the whole CLI down
        err.print(f"[yellow]warning:[/yellow] app plugins not loaded: {e.detail}")


def main() -> None:
    _add_app_commands()
    try:
        app()
    except LedgerError as e:
        err.print(f"[red]error:[/red] {e.detail}")
        sys.exit(2)


if __name__ == "__main__":
    main()
