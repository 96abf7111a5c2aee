"""The `sealchain` command. docs/cli.md lists every command and option.

Exit codes, one rule for every command (apps' commands included):

    0  done; whatever was verified, verified
    1  something was verified and failed: a receipt, a checkpoint's log signature, an audit
       (the members file included), a scanned pack
    2  the command could not do its work: bad arguments; a file that cannot be read or parsed
       (policy.txt, members.txt, a JSON body); an unknown org or key; a bad SEALCHAIN_*
       setting; a database, URL or server that does not answer or is not a Sealchain ledger;
       a submission the server refuses (a 4xx problem is a refusal, not a failed verification)

Failures are one line on stderr (`error: ...`); a traceback is a bug.
Apps add sub-commands through their App.cli (a typer app) found by entry point.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.config import Settings
from ledger.core.envelope import ORG_RE
from ledger.core.keys import Signer
from ledger.core.policy import TrustPolicy, parse_log_policy, parse_members
from ledger.core.receipt import STEPS, load_receipt, verify_receipt
from ledger.errors import (
    ConfigError,
    LedgerError,
    PolicyError,
    ReceiptInvalid,
    VerificationError,
)
from ledger.home import Home, read_policy_file, read_text_file, write_private

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

    from ledger.service.app import Bench

OK, VERIFICATION_FAILED, USAGE = 0, 1, 2  # the exit codes (module docstring)

app = typer.Typer(
    name="sealchain",
    help="Sealchain: a permissioned, hash-chained, publicly verifiable ledger.\n\n"
    "Exit codes: 0 ok; 1 something was verified and failed (a receipt, a checkpoint "
    "signature, an audit, a scanned pack); 2 a usage, input or set-up error (arguments, "
    "unreadable or malformed files, bad JSON, an unknown org or key, settings, a database or "
    "--url that does not answer or is not a Sealchain ledger, a submission the server "
    "refuses). See docs/cli.md.",
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
    try:
        settings = Settings()
    except ValidationError as e:
        raise _fail(_settings_error(e)) from e
    return settings.model_copy(update={"home": home}) if home is not None else settings


def _settings_error(error: ValidationError) -> str:
    """Each bad SEALCHAIN_* variable and why; never its value (a URL may hold a password)."""
    parts = []
    for item in error.errors():
        name = "SEALCHAIN_" + "_".join(str(part) for part in item["loc"]).upper()
        parts.append(f"{name}: {str(item['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int = USAGE) -> typer.Exit:
    """Say why on stderr, in one line, and return the Exit to raise."""
    label = "[red]error:[/red]" if code == USAGE else "[red]FAILED:[/red]"
    err.print(f"{label} {escape(_one_line(message))}")  # messages quote paths and ids verbatim
    return typer.Exit(code)


def _verification_failed(error: LedgerError) -> bool:
    """Bytes handed to a verifier did not verify (a malformed trust policy is set-up)."""
    return isinstance(error, VerificationError) and not isinstance(error, PolicyError)


def _database_failure(error: DBAPIError, settings: Settings | None) -> str:
    """One line naming the database (the setting, or the home's file) and what it said."""
    from sqlalchemy.engine import make_url

    if settings is None:
        where = "database"
    elif settings.database_url:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        where = f"database SEALCHAIN_DATABASE_URL={shown}"
    else:
        where = f"database {Home(settings.home).db_path}"
    cause: BaseException = error.orig if error.orig is not None else error
    first = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
    return f"{where}: {type(cause).__name__}: {first}"


@contextmanager
def _database(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached or read (no server, a refused login, a file that is
    not SQLite) is one line naming it, exit 2; anything else passes through."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as e:
        raise _fail(_database_failure(e, settings)) from e


def _check_database(settings: Settings) -> None:
    """Connect once to SEALCHAIN_DATABASE_URL before anything is written to the home."""
    if not settings.database_url:
        return  # the home's SQLite file, created with the home
    from sqlalchemy import create_engine

    engine = create_engine(settings.database_url)
    try:
        with _database(settings), engine.connect():
            pass
    finally:
        engine.dispose()


def _print_failed_step(error: ReceiptInvalid) -> None:
    for step in range(1, error.step):
        console.print(f"  [green]ok[/green]   ({step}) {STEPS[step]}")
    label = STEPS.get(error.step, "receipt format")
    console.print(f"  [red]FAIL[/red] ({error.step}) {label}: {escape(error.detail)}")


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
    witnesses: Annotated[
        bool,
        typer.Option(
            "--witnesses",
            help="with --demo: its three witnesses run (`sealchain witness`), 2 of 3 must cosign",
        ),
    ] = False,
    namespace: Annotated[str, typer.Option(help="key-name namespace")] = "sealchain.local",
    admin: Annotated[str, typer.Option(help="admin org id (without --demo)")] = "admin",
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="exit 0 without changes if the home exists")
    ] = False,
) -> None:
    """Create a ledger home: keys (mode 0600), genesis, policy.txt, members.txt, database."""
    from ledger.service.consortium import demo_plan, demo_witness_plan, single_admin_plan
    from ledger.service.node import init_home

    if witnesses and not demo:
        raise _fail("--witnesses goes with --demo (the demo consortium's three witnesses)")
    settings = _settings(home)
    if if_missing and Home(settings.home).exists():
        console.print(f"[bold]Ledger home[/bold] {settings.home.resolve()} exists; left as it is")
        return
    if not demo:
        _check_org_id(admin, "admin org id")
    plan = (
        (demo_witness_plan() if witnesses else demo_plan())
        if demo
        else single_admin_plan(namespace, admin)
    )
    _check_database(settings)
    try:
        with _database(settings):
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
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="run the scenarios, audit, check every URL and the quorum, exit"
        ),
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to serve the demo on")] = 8000,
    witness_port: Annotated[
        int,
        typer.Option(min=1, max=65533, help="the three witnesses listen here and on the next two"),
    ] = 8101,
    out: Annotated[Path, typer.Option(help="where scenarios write QR codes and summaries")] = Path(
        "demo-out"
    ),
) -> None:
    """Initialise the demo consortium if needed (2 of its 3 witnesses must cosign), start the
    log and the witnesses, run each app's scenario, print the pages' URLs, keep serving."""
    from ledger.service.consortium import demo_witness_plan
    from ledger.service.node import init_home

    settings = _settings(home)
    plan = demo_witness_plan(first_port=witness_port)
    if Home(settings.home).exists():
        console.print(f"Demo home already initialised at {settings.home.resolve()}")
    else:
        _check_database(settings)
        try:
            with _database(settings):
                node, _ = init_home(settings, plan)
        except LedgerError as e:
            raise _fail(e.detail) from e
        node.close()
        console.print("Initialised the demo consortium:")
        _describe_home(Home(settings.home), len(plan.orgs), len(plan.witnesses))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _fail(f"cannot use {out} for the demo's output: {e.strerror or e}") from e
    witnesses = sorted(Home(settings.home).log_policy().witnesses)
    ports = {name: witness_port + i for i, name in enumerate(plan.witnesses) if name in witnesses}
    with _sigterm_interrupts(), _served(settings.home, port, out, ports) as (url, peers):
        try:
            with _database(settings):
                summaries = _run_scenarios(url, settings.home, out)
                ok = _audit_summary(settings)
        except LedgerError as e:
            raise _story_failure(e) from e
        links = {f"{url}/docs": "the API", f"{url}/explorer": "the explorer"}
        expected: dict[str, int] = {}  # a link answering other than 200 on purpose
        for name, summary in summaries.items():
            statuses = summary.get("expect_status") or {}
            for label, link in (summary.get("urls") or {}).items():
                links[link] = f"{name}: {label}"
                expected[link] = statuses.get(label, 200)
        links.update({peer: f"witness {name}" for name, peer in peers.items()})
        console.print("\n[bold]Open[/bold]")
        for link, label in links.items():
            console.print(f"  {label}: {link}")
        if check:
            ok = _links_answer(links, expected) and ok
            ok = _quorum_reached(url, settings.home) and ok
            if not ok:
                raise typer.Exit(VERIFICATION_FAILED)
            return
        console.print(f"\nServing on {url} (logs in {out}); press Ctrl-C to stop.")
        try:
            _wait_while_up(url)
        except KeyboardInterrupt:
            console.print("stopped")


def _links_answer(links: dict[str, str], expected: dict[str, int]) -> bool:
    """Whether every printed link answers as it should: 200, or what its scenario said (a
    counterfeit code's page is a 404)."""
    import httpx

    failed = []
    for link in links:
        want = expected.get(link, 200)
        try:
            status = httpx.get(link, timeout=30).status_code
        except httpx.HTTPError as e:
            status = 0
            err.print(f"{link}: {e}")
        if status != want:
            failed.append(f"{link} ({status or 'no answer'}, expected {want})")
    verdict = (
        f"all {len(links)} answer as expected" if not failed else "FAILED " + ", ".join(failed)
    )
    console.print(f"URLs: {verdict}")
    return not failed


def _quorum_reached(url: str, home: Path, seconds: float = 30.0) -> bool:
    """Whether the log's latest checkpoint gets cosigned by the policy's quorum within
    `seconds`."""
    from ledger.client import LedgerClient

    policy = Home(home).trust_policy()
    with LedgerClient(url, policy=policy) as client:
        _, _, names = client.wait_for_final_checkpoint(seconds, pause=0.2)
    met = policy.log.quorum_met(set(names))
    signers = ", ".join(names) or "no witness"
    console.print(f"Quorum ({policy.log.quorum}): {'met' if met else 'NOT met'} by {signers}")
    return met


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a service manager, `kill`, docker stop) stops the demo as Ctrl-C does: by
    unwinding, so the server it started is stopped too. Python's default for SIGTERM ends the
    process at once and would leave that server running."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
def _served(
    home: Path, port: int, out: Path, witness_ports: dict[str, int]
) -> Iterator[tuple[str, dict[str, str]]]:
    """The log (`sealchain serve`) and a `sealchain witness` per entry of `witness_ports`, each
    a child process logging to `out/<name>.log`; yields (log URL, witness URLs) once all
    answer, and stops them all however the block ends."""
    import httpx

    from ledger.process import ServerFailed, consortium

    for what, taken in (("--port", port), *(("--witness-port", p) for p in witness_ports.values())):
        try:
            httpx.get(f"http://127.0.0.1:{taken}/", timeout=1)
            raise _fail(f"port {taken} is already in use; pass {what}")
        except httpx.HTTPError:
            pass
    try:
        with consortium(home, port, witness_ports, logs=out) as (url, peers):
            yield url, peers
    except ServerFailed as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")  # with the log's last lines: not one
        raise typer.Exit(USAGE) from e


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
        result = run_audit(node.engine, node.registry, log_keys=node.log_policy.logs)
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
    from ledger.witness import fork_story

    settings = _settings(home)
    known = {a.name for a in discover_apps() if a.scenario is not None} | {"tamper", "all"}
    if name not in known:
        raise _fail(f"no scenario {name!r}; known: {', '.join(sorted(known))}")
    try:
        with _database(settings):
            if name != "tamper":
                _run_scenarios(url, settings.home, out, name)
            if name in ("tamper", "all"):
                console.rule("scenario tamper")
                told = tamper_story.run(home=settings.home, out=out / "tamper", console=console)
                forked = fork_story.run(home=settings.home, out=out / "fork", console=console)
    except LedgerError as e:
        raise _story_failure(e) from e
    if name in ("tamper", "all"):
        audits = told["audits"]
        if not audits["original"]["ok"]:
            raise _fail(f"the audit of {settings.home} failed", VERIFICATION_FAILED)
        if audits["tampered copy"]["ok"]:
            raise _fail("the audit did not find the changed byte", VERIFICATION_FAILED)
        if not forked.get("skipped"):
            cosigned = [name for name, why in forked["refusals"].items() if why is None]
            if cosigned:
                raise _fail(f"witnesses cosigned a rewritten log: {cosigned}", VERIFICATION_FAILED)
            if forked["client"] is None:
                raise _fail("the client did not see the fork", VERIFICATION_FAILED)


def _story_failure(error: LedgerError) -> typer.Exit:
    """A scenario stopped: 1 if what it verified failed, 2 if it could not go on."""
    code = VERIFICATION_FAILED if _verification_failed(error) else USAGE
    return _fail(f"{error.code}: {error.detail}", code)


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
    from ledger.service.audit import audit as run_audit
    from ledger.service.node import open_node
    from ledger.service.projection_audit import check_projections

    settings = _settings(home)
    try:
        with _database(settings):
            node = open_node(settings, writable=False)
        logs = node.log_policy.logs
    except LedgerError as e:
        raise _fail(e.detail) from e
    if not logs:
        node.close()
        raise _fail(f"{node.home.policy_path} names no log key to check checkpoints with")
    with _database(settings):
        result = _with_progress(
            "auditing",
            lambda progress: run_audit(
                node.engine, node.registry, log_keys=logs, progress=progress
            ),
        )
    members_path = node.home.members_path
    if members_path.exists():
        try:
            result.check_members_file(read_text_file(members_path))
        except ConfigError as e:  # not UTF-8: it cannot say what the ledger says
            if result.ok and result.members is not None:
                result.ok, result.where, result.first_bad = False, "members.txt", e.detail
        except OSError as e:
            node.close()
            raise _fail(f"cannot read {members_path}: {e.strerror}") from e
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
        with _database(settings):  # e.g. the write lock stayed busy past the timeout
            check = _with_progress(
                "replaying into the projections",
                lambda progress: check_projections(node.engine, node.registry, progress=progress),
            )
    except LedgerError as e:
        raise _fail(e.detail) from e
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

    settings = _settings(home)
    try:
        with _database(settings):
            node = open_node(settings, writable=False)
            try:
                count = _with_progress(
                    "reindexing",
                    lambda progress: run_reindex(node.engine, node.registry, progress=progress),
                )
                node.write_members_file()
            finally:
                node.close()
    except LedgerError as e:
        raise _fail(e.detail) from e
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
        trust = TrustPolicy(
            read_policy_file(policy_path, parse_log_policy),
            read_policy_file(members_path, parse_members),
        )
        data = file.read_bytes() if file else None
        raw = receipt.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(e.detail) from e
    try:
        # A receipt file that is not a receipt fails at step (0): it is what is being verified.
        result = verify_receipt(load_receipt(raw), trust, data=data)
    except ReceiptInvalid as e:
        _print_failed_step(e)
        raise typer.Exit(VERIFICATION_FAILED) from e
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
    """Serve the REST API (uvicorn). With several workers, each listens on its own SO_REUSEPORT
    socket so connections spread over them, and one block writer process commits for all."""
    import os

    from ledger import serving
    from ledger.service.node import open_node

    settings = _settings(home)
    if not Home(settings.home).policy_path.exists():
        raise _fail(f"no ledger home at {settings.home}: run `sealchain init` first")
    try:
        # What each worker will open, opened once here: a bad home, key or database is one
        # line now instead of a traceback from every worker.
        with _database(settings):
            open_node(settings).close()
    except LedgerError as e:
        raise _fail(e.detail) from e
    os.environ["SEALCHAIN_HOME"] = str(settings.home.resolve())
    where = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def announce() -> None:
        err.print(f"serving {settings.home.resolve()} on {where} ({workers} worker(s))")

    try:
        status = serving.serve(host, port, workers, announce=announce)
    except serving.CannotListen as e:
        raise _fail(str(e)) from e
    if status:
        raise _fail(f"the server stopped (exit status {status}); see its log above")


@app.command()
def witness(
    name: Annotated[str, typer.Option("--name", help="the witness (member org) this peer is")],
    log_url: Annotated[str, typer.Option("--log", help="the log's base URL, e.g. http://log:8000")],
    home: HomeOpt = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8101,
    data: Annotated[
        Path | None, typer.Option(help="the peer's replica and state (default HOME/witness/NAME)")
    ] = None,
    follow_seconds: Annotated[
        float, typer.Option(min=0.05, max=3600, help="how often to follow the log's checkpoint")
    ] = 1.0,
) -> None:
    """Run a validating witness peer (DESIGN 10): replicate the log from its tiles, replay
    every entry through the pipeline into its own database, and cosign (C2SP tlog-witness
    POST /add-checkpoint) only checkpoints its replica agrees with. docs/witness.md."""
    import uvicorn

    from ledger import serving
    from ledger.witness.service import open_witness

    _check_org_id(name, "witness name")
    settings = _settings(home)
    if not log_url.startswith(("http://", "https://")):
        raise _fail(f"--log must be the log's http(s) base URL, not {log_url!r}")
    try:
        peer = open_witness(
            settings.home, name, log_url, data=data, passphrase=settings.passphrase()
        )
    except LedgerError as e:
        raise _fail(e.detail) from e
    try:
        sock = serving.bound_socket(host, port, reuse_port=False)
    except serving.CannotListen as e:
        peer.close()
        raise _fail(str(e)) from e
    if peer.peer.fault:
        err.print(f"[red]{escape(peer.peer.fault)}[/red]")
    where = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    err.print(
        f"witness {name} on {where}: following {log_url}, replica {peer.data} "
        f"(size {peer.peer.replica.size()})"
    )
    peer.start_following(follow_seconds)
    server = uvicorn.Server(uvicorn.Config(peer.app(), log_level="warning", access_log=False))
    try:
        with _sigterm_interrupts():
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        peer.close()


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

    from ledger.client import LedgerClient, check_receipt
    from ledger.core.canonical import parse_strict

    _check_org_id(org, "org id")  # before a key file is named after it
    settings = _settings(home)
    try:
        # Before submitting: once the entry is committed, a receipt we cannot write is lost.
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _fail(f"cannot use {out} for the receipt: {e.strerror or e}") from e
    source = "standard input" if str(body) == "-" else str(body)
    try:
        raw = sys.stdin.buffer.read() if str(body) == "-" else body.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {e.filename}: {e.strerror}") from e
    try:
        value = parse_strict(raw)
    except LedgerError as e:
        raise _fail(f"{source}: {e.detail}") from e
    if not isinstance(value, dict):
        raise _fail(f"{source}: the body must be a JSON object")
    h = Home(settings.home, settings.passphrase())
    try:
        trust = h.trust_policy()
        signer = h.member_signer(org)
        # The client only talks; what the server answers is verified below, so that a refusal
        # (exit 2) and a receipt that does not verify (exit 1) cannot be mistaken.
        with LedgerClient(url, org, signer, verify=False) as client:
            envelope = client.sign(record_type, value)
            receipt = client.submit_envelope(envelope)
    except OSError as e:
        raise _fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(f"{e.code}: {e.detail}") from e
    try:
        check_receipt(receipt, trust, envelope)
    except ReceiptInvalid as e:
        _print_failed_step(e)
        raise _fail(
            f"the server answered for index {receipt.index} with a receipt that does not "
            "verify; none was written",
            VERIFICATION_FAILED,
        ) from e
    path = out / f"{envelope.tx_id}.json"
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


@app.command()
def checkpoint(
    url: UrlOpt = DEFAULT_URL,
    home: HomeOpt = None,
    since: Annotated[
        Path | None,
        typer.Option(help="a checkpoint kept from before: the log must still extend it"),
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="write the verified checkpoint here, for a later --since")
    ] = None,
) -> None:
    """Fetch the latest checkpoint, check the log's signature, print the signed note. With
    --since, also check that the log's tree extends a checkpoint kept from before (a
    consistency proof): a log whose history was rewritten fails, exit 1, "FORK"."""
    from ledger.client import LedgerClient
    from ledger.core.note import parse_note
    from ledger.core.receipt import verify_log_signature

    settings = _settings(home)
    kept = None
    if since is not None:
        try:
            kept = since.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise _fail(f"cannot read {since}: {getattr(e, 'strerror', None) or e}") from e
    try:
        policy = Home(settings.home).trust_policy()
        with LedgerClient(url, verify=False) as client:  # verified below: see `submit`
            cp, note = client.get_checkpoint()
            verify_log_signature(parse_note(note), cp, policy.log)
            if kept is not None:
                client.policy = policy
                client.check_extends(kept)
    except VerificationError as e:
        raise _fail(f"checkpoint {e.detail}", 1) from e
    except LedgerError as e:
        raise _fail(f"{e.code}: {e.detail}") from e
    console.print(note, end="", markup=False, highlight=False)
    err.print(f"verified: {cp.origin} size {cp.size}")
    if kept is not None:
        err.print(f"consistent with the checkpoint in {since}")
    if save is not None:
        try:
            save.write_text(note)
        except OSError as e:
            raise _fail(f"cannot write {save}: {e.strerror or e}") from e


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
    h = Home(settings.home)
    target = out or h.org_key_path(org)
    if target.exists():
        raise _fail(f"{target} exists; refusing to overwrite a key")
    if namespace is None:  # the home's namespace: its log is named <namespace>/log
        namespace = "sealchain.local"
        if h.policy_path.exists():
            try:
                logs = h.log_policy().logs
            except LedgerError as e:
                raise _fail(e.detail) from e
            if logs:
                namespace = logs[0].name.removesuffix("/log")
    signer = Signer.generate(f"{namespace}/org/{org}")
    try:
        write_private(target, signer.to_pem(settings.passphrase()))
    except OSError as e:
        raise _fail(f"cannot write {target}: {e.strerror or e}") from e
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
    if org is not None:
        _check_org_id(org, "org id")
        if not h.org_key_path(org).exists():
            raise _fail(f"no key for org {org!r} in {h.root} ({h.org_key_path(org)})")
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


JsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="also write the rows to this file: {machine, date, rows: [{name, value, unit, "
        "baseline, ratio, goal, met, note}]}",
        dir_okay=False,
    ),
]
QuickOpt = Annotated[bool, typer.Option("--quick", help="smaller sizes, for a smoke run")]


def _ledger_bench(name: str) -> Bench:
    """The ledger's own benchmark `name` (ledger/bench/<name>.py), imported when it runs."""

    def bench(*, quick: bool, console: Console) -> list[Any]:
        from importlib import import_module

        rows: list[Any] = import_module(f"ledger.bench.{name}").run(quick=quick, console=console)
        return rows

    return bench


LEDGER_BENCHES = {
    "core": "Ed25519 vs envelope checks, sequencer vs executemany, proof time at 10^3..10^6.",
    "api": "HTTP submits vs a bare FastAPI baseline; batch ingest vs raw Ed25519 verifications.",
    "consortium": "Batch ingest with three cosigning witnesses against none, commit-to-final "
    "latency, and tile reads against hello-world (docs/benchmarks.md).",
    "scale": "A ledger of 10^6 entries (10^4 with --quick) built through the server: proofs, "
    "server memory, audit, reindex and bytes per entry at 10^3, 10^5, 10^6, against pymerkle, "
    "and on PostgreSQL (SEALCHAIN_BENCH_PG_URL or SEALCHAIN_TEST_PG_URL).",
}


def _write_json(path: Path | None, rows: list[Any]) -> None:
    from ledger.bench.report import make_report, write_json

    if path is not None:
        write_json(path, make_report(rows))
        console.print(f"wrote {path}")


def _bench_command(name: str, bench: Bench, doc: str | None = None) -> Callable[..., None]:
    def command(quick: QuickOpt = False, json_out: JsonOpt = None) -> None:
        from ledger.bench.report import print_rows

        rows = bench(quick=quick, console=console)
        print_rows(console, f"sealchain bench {name}", rows)
        _write_json(json_out, rows)

    command.__doc__ = doc or bench.__doc__
    return command


for _name, _doc in LEDGER_BENCHES.items():
    bench_app.command(_name)(_bench_command(_name, _ledger_bench(_name), _doc))


def _all_benches() -> list[tuple[str, Bench]]:
    from ledger.service.app import discover_apps

    found = [(name, _ledger_bench(name)) for name in LEDGER_BENCHES]
    for plugin in discover_apps():
        found += list(plugin.benches.items())
    return found


@bench_app.command("all")
def bench_all(
    quick: QuickOpt = False,
    json_out: JsonOpt = None,
    docs: Annotated[
        bool | None,
        typer.Option(
            "--docs/--no-docs",
            help="rewrite docs/benchmarks.json and the generated block of docs/benchmarks.md "
            "(default: after a full run in a source checkout, never after --quick)",
        ),
    ] = None,
) -> None:
    """Every benchmark, the ledger's and the apps': one table of rows and, after a full run,
    docs/benchmarks.json and the figures of docs/benchmarks.md. Exit 1 if a benchmark failed
    (the others still run; the docs are then left alone)."""
    import traceback

    from ledger.bench.report import docs_directory, make_report, print_rows, update_docs

    rows: list[Any] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name, bench in _all_benches():
        console.rule(f"sealchain bench {name}" + (" --quick" if quick else ""))
        try:
            got = bench(quick=quick, console=console)
        except Exception:  # one broken benchmark must not cost the others' figures
            err.print(f"[red]bench {name} failed:[/red]\n{escape(traceback.format_exc())}")
            failed.append(name)
            continue
        print_rows(console, f"sealchain bench {name}", got)
        rows += got
    console.rule("sealchain bench all")
    print_rows(console, "sealchain bench all", rows)
    console.print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s")
    _write_json(json_out, rows)
    if failed:
        err.print(f"[red]failed:[/red] {', '.join(failed)}; docs not updated")
        raise typer.Exit(VERIFICATION_FAILED)
    if docs is None:
        docs = not quick
    if docs:
        directory = docs_directory()
        if directory is None:
            console.print("no docs/benchmarks.md beside this installation: docs not updated")
        else:
            update_docs(directory, make_report(rows))
            console.print(
                f"wrote {directory / 'benchmarks.json'} and {directory / 'benchmarks.md'}"
            )


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
    """The `sealchain` entry point: what a command did not catch itself becomes one line and
    the exit code of the module docstring; only a bug keeps its traceback."""
    from sqlalchemy.exc import DBAPIError

    try:
        app()
    except LedgerError as e:
        code = VERIFICATION_FAILED if _verification_failed(e) else USAGE
        label = "error:" if code == USAGE else "FAILED:"
        err.print(f"[red]{label}[/red] {escape(_one_line(e.detail))}")
        sys.exit(code)
    except ValidationError as e:  # settings read outside _settings (an app's command)
        err.print(f"[red]error:[/red] {escape(_one_line(_settings_error(e)))}")
        sys.exit(USAGE)
    except DBAPIError as e:
        err.print(f"[red]error:[/red] {escape(_one_line(_database_failure(e, None)))}")
        sys.exit(USAGE)
    except Exception as e:
        if not _is_environment_error(e):
            raise  # a bug: its traceback is what a report needs
        err.print(f"[red]error:[/red] {escape(_one_line(f'{type(e).__name__}: {e}'))}")
        sys.exit(USAGE)


def _is_environment_error(error: Exception) -> bool:
    """Failures of what the command was pointed at (a file, a URL, a server, a database), not
    of the code: said in one line and exit 2, never as a traceback."""
    import httpx
    from sqlalchemy.exc import DatabaseError

    expected = (OSError, ValueError, httpx.HTTPError, httpx.InvalidURL, DatabaseError)
    return isinstance(error, expected)


if __name__ == "__main__":
    main()
