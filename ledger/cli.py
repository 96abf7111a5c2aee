"""The `sealchain` command. Exit codes: 0 ok, 1 verification failed, 2 usage or set-up error.

Apps add sub-commands through their App.cli (a typer app) found by entry point.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.config import Settings
from ledger.core.envelope import ORG_RE
from ledger.core.keys import Signer
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import STEPS, load_receipt, verify_receipt
from ledger.errors import ConfigError, LedgerError, ReceiptInvalid, VerificationError
from ledger.home import Home, write_private

if TYPE_CHECKING:
    from ledger.client import LedgerClient
    from ledger.service.app import Bench

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

T = TypeVar("T")
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
    err.print(f"[red]error:[/red] {escape(message)}")  # messages quote paths and ids verbatim
    return typer.Exit(code)


def _check_org_id(org: str, what: str) -> None:
    """Before any key file is named after it: an id like `../x` would write outside the home."""
    if not ORG_RE.match(org):
        raise _fail(f"{what} {org!r} must be 1-63 lower-case letters, digits or '-'")


def _with_progress(label: str, work: Callable[[Callable[[int, int], None]], T]) -> T:
    """Run `work(progress)` under a progress bar on stderr (when it is a terminal); `work`
    reports (done, total) through the callback it is given."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with bar:
        task = bar.add_task(label, total=None)
        return work(lambda done, total: bar.update(task, completed=done, total=total))


@app.command()
def init(
    home: HomeOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="the demo consortium of DESIGN 4")] = False,
    namespace: Annotated[str, typer.Option(help="key-name namespace")] = "sealchain.local",
    admin: Annotated[str, typer.Option(help="admin org id (without --demo)")] = "admin",
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="exit 0 without changes if the home exists")
    ] = False,
) -> None:
    """Create a ledger home: keys (mode 0600), genesis, policy.txt, members.txt, database."""
    from ledger.service.consortium import demo_plan, single_admin_plan
    from ledger.service.node import init_home

    settings = _settings(home)
    if if_missing and Home(settings.home).exists():
        console.print(f"[bold]Ledger home[/bold] {settings.home.resolve()} exists; left as it is")
        return
    if not demo:
        _check_org_id(admin, "admin org id")
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
    check: Annotated[bool, typer.Option("--check", help="run the scenarios, audit, exit")] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to serve the demo on")] = 8000,
    out: Annotated[Path, typer.Option(help="where scenarios write QR codes and summaries")] = Path(
        "demo-out"
    ),
) -> None:
    """Initialise the demo consortium if needed, serve it, run each app's scenario, keep serving."""
    from ledger.service.consortium import demo_plan
    from ledger.service.node import init_home

    settings = _settings(home)
    plan = demo_plan()
    if Home(settings.home).exists():
        console.print(f"Demo home already initialised at {settings.home.resolve()}")
    else:
        node, _ = init_home(settings, plan)
        node.close()
        console.print("Initialised the demo consortium:")
        _describe_home(Home(settings.home), len(plan.orgs), len(plan.witnesses))
    out.mkdir(parents=True, exist_ok=True)
    with _served(settings.home, port, out / "server.log") as url:
        summaries = _run_scenarios(url, settings.home, out)
        ok = _audit_summary(settings)
        console.print(f"\n[bold]Open[/bold] {url}/docs for the API")
        for name, summary in summaries.items():
            for label, link in (summary.get("urls") or {}).items():
                console.print(f"  {name}: {label}: {link}")
        if check:
            if not ok:
                raise typer.Exit(1)
            return
        console.print(f"\nServing on {url} (log: {out / 'server.log'}); press Ctrl-C to stop.")
        try:
            _wait_while_up(url)
        except KeyboardInterrupt:
            console.print("stopped")


def _wait_while_up(url: str) -> None:
    """Keep the demo in the foreground until Ctrl-C, or until the server stops answering."""
    import httpx

    while True:
        time.sleep(5)
        try:
            httpx.get(url + "/healthz", timeout=5).raise_for_status()
        except httpx.HTTPError as e:
            raise _fail(f"the server stopped answering: {e}") from e


@contextmanager
def _served(home: Path, port: int, log: Path) -> Iterator[str]:
    """`sealchain serve` in a child process (its JSON log in `log`), ready when /healthz answers."""
    import httpx

    from ledger.process import ServerFailed, background_server, serve_command

    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        raise _fail(f"port {port} is already in use; pass --port")
    except httpx.HTTPError:
        pass
    try:
        with background_server(serve_command(home, port), port, log=log) as url:
            yield url
    except ServerFailed as e:
        raise _fail(str(e)) from e


def _run_scenarios(url: str, home: Path, out: Path, only: str = "all") -> dict[str, dict[str, Any]]:
    from ledger.service.app import discover_apps

    summaries: dict[str, dict[str, Any]] = {}
    for found in discover_apps():
        if found.scenario is None or only not in ("all", found.name):
            continue
        console.rule(f"scenario {found.name}")
        summaries[found.name] = found.scenario(
            url=url, home=home, out=out / found.name, console=console
        )
    return summaries


def _audit_summary(settings: Settings) -> bool:
    from ledger.service.audit import audit as run_audit
    from ledger.service.node import open_node
    from ledger.service.projection_audit import check_projections

    node = open_node(settings, writable=False)
    try:
        result = run_audit(node.engine, node.registry, log_key=node.log_policy.logs[0])
        console.print(
            f"Audit: {'ok' if result.ok else 'FAILED ' + str(result.first_bad)}: "
            f"{result.entries} entries, {result.blocks} blocks, {result.checkpoints} checkpoints"
        )
        if not result.ok:
            return False
        # The demo ledger is small, so holding the write lock for a replay costs nothing here.
        check = check_projections(node.engine, node.registry)
    finally:
        node.close()
    console.print(
        f"Projections: {'ok' if check.ok else 'FAILED ' + str(check.first_bad)}: {check.summary}"
    )
    return check.ok


@app.command()
def scenario(
    name: Annotated[str, typer.Argument(help="beef, evidence, certs, tamper or all")],
    url: Annotated[str, typer.Option("--url", envvar="SEALCHAIN_URL", help="running server")] = (
        "http://127.0.0.1:8000"
    ),
    out: Annotated[Path, typer.Option(help="output directory")] = Path("scenario-out"),
    home: HomeOpt = None,
) -> None:
    """Tell one story end to end against a running server (`sealchain serve`)."""
    from ledger.service import tamper_story
    from ledger.service.app import discover_apps

    settings = _settings(home)
    known = {a.name for a in discover_apps() if a.scenario is not None} | {"tamper", "all"}
    if name not in known:
        raise _fail(f"no scenario {name!r}; known: {', '.join(sorted(known))}")
    try:
        if name != "tamper":
            _run_scenarios(url, settings.home, out, name)
        if name in ("tamper", "all"):
            console.rule("scenario tamper")
            tamper_story.run(home=settings.home, out=out / "tamper", console=console)
    except LedgerError as e:
        raise _fail(f"{e.code}: {e.detail}") from e


@app.command()
def audit(
    home: HomeOpt = None,
    projections: Annotated[
        bool,
        typer.Option(
            "--projections",
            help="also replay every entry (rolled back) and compare the apps' state tables; "
            "holds the write lock meanwhile",
        ),
    ] = False,
) -> None:
    """Re-verify every entry, node, block and checkpoint; exit 1 naming the first fault."""
    from sqlalchemy.exc import OperationalError

    from ledger.service.audit import audit as run_audit
    from ledger.service.node import open_node
    from ledger.service.projection_audit import check_projections

    settings = _settings(home)
    try:
        node = open_node(settings, writable=False)
        log_key = node.log_policy.logs[0]
    except LedgerError as e:
        raise _fail(e.detail) from e
    result = _with_progress(
        "auditing",
        lambda progress: run_audit(node.engine, node.registry, log_key=log_key, progress=progress),
    )
    if node.home.members_path.exists():
        result.check_members_file(node.home.members_path.read_text(encoding="utf-8"))
    summary = (
        f"{result.entries} entries, {result.blocks} blocks, {result.checkpoints} checkpoints, "
        f"{result.cosignatures} cosignatures"
    )
    if not result.ok:
        node.close()
        console.print(f"[red]audit FAILED[/red] at {result.where}: {result.first_bad}")
        console.print(f"verified before the fault: {summary}")
        raise typer.Exit(1)
    console.print(f"[green]audit ok[/green]: {summary}")
    if not projections:
        node.close()
        return
    try:
        check = _with_progress(
            "replaying into the projections",
            lambda progress: check_projections(node.engine, node.registry, progress=progress),
        )
    except LedgerError as e:
        raise _fail(e.detail) from e
    except OperationalError as e:  # e.g. the write lock stayed busy past the timeout
        raise _fail(f"the projection check could not run: {e.orig}") from e
    finally:
        node.close()
    if not check.ok:
        console.print(f"[red]projections FAILED[/red] at {check.where}: {check.first_bad}")
        raise typer.Exit(1)
    console.print(f"[green]projections ok[/green]: {check.summary}")


@app.command()
def reindex(home: HomeOpt = None) -> None:
    """Rebuild every projection (members, keys, nonces, app state) from the entries."""
    from ledger.service.node import open_node
    from ledger.service.reindex import reindex as run_reindex

    try:
        node = open_node(_settings(home), writable=False)
    except LedgerError as e:
        raise _fail(e.detail) from e
    count = _with_progress(
        "reindexing",
        lambda progress: run_reindex(node.engine, node.registry, progress=progress),
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


DEFAULT_URL = "http://127.0.0.1:8000"
UrlOpt = Annotated[str, typer.Option("--url", envvar="SEALCHAIN_URL", help="ledger API base URL")]


@app.command()
def serve(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
) -> None:
    """Serve the REST API (uvicorn). Workers share the database and take turns committing;
    each listens on its own SO_REUSEPORT socket so connections spread over them."""
    import os

    from ledger import serving

    settings = _settings(home)
    if not Home(settings.home).policy_path.exists():
        raise _fail(f"no ledger home at {settings.home}: run `sealchain init` first")
    os.environ["SEALCHAIN_HOME"] = str(settings.home.resolve())
    err.print(f"serving {settings.home.resolve()} on http://{host}:{port} ({workers} worker(s))")
    try:
        status = serving.serve(host, port, workers)
    except serving.PortInUse as e:
        raise _fail(str(e)) from e
    if status:
        # uvicorn exits 3 when it cannot start (a bad host, a busy port): not a documented code
        raise _fail(f"the server stopped (worker exit status {status}); see the log above")


def _client(settings: Settings, url: str, org: str | None = None) -> LedgerClient:
    from ledger.client import LedgerClient

    h = Home(settings.home, settings.passphrase())
    key = h.member_signer(org) if org else None
    return LedgerClient(url, org, key, h.trust_policy())


@app.command()
def submit(
    org: Annotated[str, typer.Option("--as", help="org that signs (its key: HOME/keys/ORG.pem)")],
    record_type: Annotated[str, typer.Option("--type", help="record type, e.g. beef.commission")],
    body: Annotated[Path, typer.Option(help="JSON file with the body ('-' for stdin)")],
    url: UrlOpt = DEFAULT_URL,
    out: Annotated[Path, typer.Option(help="directory for the receipt")] = Path("receipts"),
    home: HomeOpt = None,
) -> None:
    """Sign and submit one entry; verify and write its receipt; print the receipt's path."""
    import json

    from ledger.core.canonical import parse_strict

    try:
        # Before submitting: once the entry is committed, a receipt we cannot write is lost.
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _fail(f"cannot use {out} for the receipt: {e.strerror or e}") from e
    try:
        raw = sys.stdin.buffer.read() if str(body) == "-" else body.read_bytes()
        value = parse_strict(raw)
        if not isinstance(value, dict):
            raise _fail("the body must be a JSON object")
        with _client(_settings(home), url, org) as client:
            receipt = client.submit(record_type, value)
    except OSError as e:
        raise _fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(f"{e.code}: {e.detail}", 1 if e.status < 500 else 2) from e
    tx_id = envelope_tx_id(receipt.entry)
    path = out / f"{tx_id}.json"
    text = json.dumps(receipt.to_json(), indent=1) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        console.print(text, end="", markup=False, highlight=False)
        raise _fail(
            f"committed at index {receipt.index}, but {path} could not be written "
            f"({e.strerror or e}); the receipt is printed above"
        ) from e
    err.print(f"committed at index {receipt.index}; receipt verified offline")
    console.print(str(path))


def envelope_tx_id(entry: dict[str, object]) -> str:
    from ledger.core.envelope import envelope_from_dict

    return envelope_from_dict(entry).tx_id


@app.command()
def checkpoint(url: UrlOpt = DEFAULT_URL, home: HomeOpt = None) -> None:
    """Fetch the latest checkpoint, check the log's signature, print the signed note."""
    try:
        with _client(_settings(home), url) as client:
            cp, note = client.get_checkpoint()
    except LedgerError as e:
        raise _fail(f"{e.code}: {e.detail}", 1 if isinstance(e, VerificationError) else 2) from e
    console.print(note, end="", markup=False, highlight=False)
    err.print(f"verified: {cp.origin} size {cp.size}")


@keys_app.command("new")
def keys_new(
    org: Annotated[str, typer.Argument(help="org id the key is for")],
    out: Annotated[Path | None, typer.Option(help="PEM path (default: HOME/keys/ORG.pem)")] = None,
    namespace: Annotated[
        str | None, typer.Option(help="key name is NAMESPACE/org/ORG (default: the home's)")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Generate an Ed25519 key (PKCS#8 PEM, mode 0600) and print its vkey."""
    settings = _settings(home)
    _check_org_id(org, "org id")
    target = out or Home(settings.home).org_key_path(org)
    if target.exists():
        raise _fail(f"{target} exists; refusing to overwrite a key")
    if namespace is None:  # the home's namespace: its log is named <namespace>/log
        try:
            namespace = Home(settings.home).log_policy().logs[0].name.removesuffix("/log")
        except (LedgerError, IndexError):
            namespace = "sealchain.local"
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
        if org is None:
            console.print(f"log {h.log_signer().vkey}")
        paths = [h.org_key_path(org)] if org else sorted((h.root / "keys").glob("*.pem"))
        for path in paths:
            try:
                console.print(f"{path.stem} {h.member_signer(path.stem).vkey}")
            except ConfigError as e:  # a new key, not (yet) added to the ledger
                console.print(f"{path.stem} (not a member key on this ledger: {e.detail})")
    except LedgerError as e:
        raise _fail(e.detail) from e


@bench_app.command("api")
def bench_api(
    quick: Annotated[bool, typer.Option(help="fewer requests, for a smoke run")] = False,
) -> None:
    """HTTP submits vs a bare FastAPI baseline; batch ingest vs raw Ed25519 verifications."""
    from ledger.bench.api import run

    run(quick=quick, out=console)


@bench_app.command("core")
def bench_core(
    quick: Annotated[bool, typer.Option(help="smaller sizes, for a smoke run")] = False,
) -> None:
    """Ed25519 vs envelope checks, sequencer vs executemany, proof time at 10^3..10^6."""
    from ledger.bench.core import run

    run(quick=quick, out=console)


def _bench_command(name: str, bench: Bench) -> Callable[..., None]:
    def command(
        quick: Annotated[bool, typer.Option(help="smaller sizes, for a smoke run")] = False,
    ) -> None:
        from ledger.bench.report import print_rows

        print_rows(console, f"sealchain bench {name}", bench(quick=quick, console=console))

    command.__doc__ = bench.__doc__
    return command


def _add_app_commands() -> None:
    from ledger.service.app import discover_apps

    try:
        for found in discover_apps():
            if found.cli is not None:
                app.add_typer(found.cli, name=found.name)
            for command, function in found.commands.items():
                app.command(command)(function)
            for bench_name, bench in found.benches.items():
                bench_app.command(bench_name)(_bench_command(bench_name, bench))
    except LedgerError as e:  # a broken plugin must not take the whole CLI down
        err.print(f"[yellow]warning:[/yellow] app plugins not loaded: {e.detail}")


_add_app_commands()  # app plugins' commands are part of `app` wherever it is imported


def main() -> None:
    try:
        app()
    except LedgerError as e:
        err.print(f"[red]error:[/red] {escape(e.detail)}")
        sys.exit(2)
    except Exception as e:
        if not _is_environment_error(e):
            raise  # a bug: its traceback is what a report needs
        err.print(f"[red]error:[/red] {escape(f'{type(e).__name__}: {e}')}")
        sys.exit(2)


def _is_environment_error(error: Exception) -> bool:
    """Failures of what the command was pointed at (a file, a URL, a server, a database), not
    of the code: said in one line and exit 2, never as a traceback."""
    import httpx
    from sqlalchemy.exc import DatabaseError

    expected = (OSError, ValueError, httpx.HTTPError, httpx.InvalidURL, DatabaseError)
    return isinstance(error, expected)


if __name__ == "__main__":
    main()
