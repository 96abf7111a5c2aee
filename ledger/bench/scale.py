"""`sealchain bench scale`: a ledger of 10^6 entries built through the real server, and what
grows (or must not grow) with it, each figure beside a baseline of the same run.

The build: `sealchain serve --workers 2` takes 1000-entry batches (`POST /v1/entries/batch`,
four clients), every envelope signed by the writer's real key in a pool of two processes just
ahead of its submission (the server's +/-300 s window holds), the whole pipeline (steps 1-10)
per entry. Entries are `bench.note`s of 950 bytes, the mean size of the beef app's entries: a
beef event's id is its GS1 CBV 2.0 hash, which the reference generator computes in about 1.4 ms
(to sign, again to validate, again to audit), so 10^6 beef events would spend over an hour of CPU
on event hashes alone; docs/benchmarks.md says more. On SQLite the build stops at 10^3, 10^5
and 10^6 entries (10^2, 10^3, 10^4 with --quick) and copies the database; then, per size:

- inclusion-proof time (`ledger.service.proofs.inclusion_proof`, one kept connection per size
  as a server's, sizes taking turns in rounds), against 10^3 (goal: 10^6 within 1.3x);
- the resident memory of `sealchain serve` (one worker) after proofs and tile reads (goal:
  under 200 MB at 10^6), and of the largest of the build server's processes (two workers
  and one block writer);
- `sealchain audit`: entries/s against one core's raw Ed25519 verifications of the same
  messages, measured just before and after (goal: 1.5x), and its peak memory (PSS of the
  process and its workers) against the smallest size (flat);
- `sealchain reindex` entries/s against the build's, and database bytes per entry against the
  entry bytes;
- pymerkle's SqliteTree on the same entries (10^5 and 10^6; its root must equal ours): its
  median proof time over ours, the two taking turns in blocks over the same leaves (goal: 10x at
  10^5, 50x at 10^6). pymerkle is the `bench` extra, imported only here; without it those rows
  are left out, saying so;
- on PostgreSQL (SEALCHAIN_BENCH_PG_URL, else SEALCHAIN_TEST_PG_URL: an admin URL; each ledger
  gets a database of its own, dropped afterwards): ingest, proofs, server memory, audit,
  reindex and bytes per entry at 10^3 and 10^5 (10^2 and 10^3 with --quick). Its rows say so.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from ledger.bench.api import BENCH_APP_SPEC
from ledger.bench.core import BENCH_APP, _bench_plan, _rate
from ledger.bench.memory import Memory, process_memory, status_kb
from ledger.bench.report import BenchRow
from ledger.config import Settings
from ledger.core import merkle
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.home import Home
from ledger.process import free_port, serve_command
from ledger.service.node import init_home
from ledger.service.proofs import inclusion_proof
from ledger.storage.engine import make_engine, read_transaction
from ledger.storage.repository import Repository

WRITER = "bench-writer"
BATCH = 1000  # envelopes per POST /v1/entries/batch
POSTERS = 4  # concurrent batch clients (four were best in `bench api`)
SIGN_AHEAD = 8  # batches signed ahead of the posters: enough to keep them fed, never stale
TEXT_BYTES = 700  # a bench.note with this text is a 950-byte entry, a beef entry's mean size
PROOF_SAMPLES, PROOF_ROUNDS = 5000, 50  # per size (about a second in all), in rounds of 100
PROOF_WARMUP = 50  # proofs before any is timed, on each connection
SERVER_PROOFS = 2000  # GET /v1/proofs/inclusion before the server's memory is read
# pymerkle's LRU of subtree roots fills over thousands of proofs (about 230 µs at 10^5 after 500,
# 270 µs at 10^6 after 6,000; docs/benchmarks.md): its median hangs on how many came before, so
# the row keeps issue #9's counts, 20 untimed proofs a side and 200 timed
PYMERKLE_WARMUP, PYMERKLE_SAMPLES, PYMERKLE_BLOCK = 20, 200, 20  # blocks: sides take turns
PYMERKLE_SECONDS = 60.0  # at most this long (and at most PYMERKLE_SAMPLES) per size for pymerkle


@dataclass(frozen=True)
class Sizes:
    sqlite: tuple[int, ...]
    postgres: tuple[int, ...]
    pymerkle: tuple[int, ...]


FULL = Sizes((10**3, 10**5, 10**6), (10**3, 10**5), (10**5, 10**6))
QUICK = Sizes((10**2, 10**3, 10**4), (10**2, 10**3), (10**3, 10**4))
PYMERKLE_GOALS = {10**5: 10.0, 10**6: 50.0}  # issue #9: times faster than pymerkle


@dataclass
class Ledger:
    """A home holding a ledger of exactly `size` entries (on `database_url`, or its SQLite)."""

    size: int
    home: Path
    database_url: str | None
    root: bytes = b""

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ledger.db'}"

    def env(self) -> dict[str, str]:
        """The environment for `sealchain` commands on this ledger, whatever the caller's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEALCHAIN_")}
        env["SEALCHAIN_EXTRA_APPS"] = BENCH_APP_SPEC
        if self.database_url:
            env["SEALCHAIN_DATABASE_URL"] = self.database_url
        return env


@dataclass
class Build:
    """What building a ledger measured: the ledgers at each stop, ingest, the server's memory."""

    ledgers: dict[int, Ledger] = field(default_factory=dict)
    entries: int = 0
    seconds: float = 0.0
    worker_memory: dict[int, Memory] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.entries / self.seconds


# --- processes and their memory ---------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc), or just `pid` where /proc has no children file."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
    return found


def _pss_kb(pid: int) -> tuple[int, int]:
    """Proportional set size, all and anonymous (`Pss`, `Pss_Anon`), in kB: memory shared
    between forked workers is counted once overall. One read of smaps_rollup, which costs
    about 2 ms of CPU for a 150 MB process (the kernel walks its page tables)."""
    try:
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            if line.startswith(("Pss:", "Pss_Anon:"))
        )
        return int(fields["Pss"].split()[0]), int(fields["Pss_Anon"].split()[0])
    except (OSError, ValueError, KeyError):
        return status_kb(pid, "VmRSS"), status_kb(pid, "RssAnon")


def _largest_memory(pid: int) -> Memory:
    """The memory of the largest process in `pid`'s tree (a server's worker)."""
    return process_memory(max(_tree(pid), key=lambda p: status_kb(p, "VmRSS")))


@contextlib.contextmanager
def _serving(ledger: Ledger, *options: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`sealchain serve` on the ledger; yields its URL and process once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own command
        serve_command(ledger.home, port, *options),
        env=ledger.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sealchain serve exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).is_success:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("sealchain serve did not answer within 120 s")
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_watched(command: list[str], env: dict[str, str]) -> tuple[float, Memory]:
    """Run a command to completion: its wall seconds, and the peak PSS (all, and anonymous) of
    it and its worker processes."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own command
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peak, peak_anon = 0, 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak, peak_anon
        while not stop.is_set():
            sizes = [_pss_kb(p) for p in _tree(process.pid)]
            peak = max(peak, sum(all_kb for all_kb, _ in sizes))
            peak_anon = max(peak_anon, sum(anon_kb for _, anon_kb in sizes))
            # Often at first: an audit of 10^3 entries has its workers for about 0.1 s, which
            # samples 0.2 s apart missed (its peak read as the parent's alone). Seldom after,
            # since each sample costs CPU the command being measured would have.
            stop.wait(0.05 if time.perf_counter() - started < 3 else 0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:4])} failed: {output.decode()[-2000:]}")
    return seconds, Memory(peak / 1024, peak_anon / 1024)


def _sealchain(*args: str) -> list[str]:
    return [sys.executable, "-m", "ledger.cli", *args]


# --- building ---------------------------------------------------------------------------------

_SIGNER: Signer | None = None


def _init_signer(home: str) -> None:
    global _SIGNER
    _SIGNER = Home(Path(home)).member_signer(WRITER)


def _note_text(n: int) -> str:
    """A deterministic 700-character note, different for every entry."""
    head = f"pack {n:09d} reading "
    return (head + "2026-11-28T08:30:00.000Z 1.8C; " * 25)[:TEXT_BYTES]


def _sign_batch(first: int, count: int) -> bytes:
    """A JSON array of `count` freshly signed envelopes, for POST /v1/entries/batch."""
    signer = _SIGNER
    assert signer is not None
    raws = [
        sign_envelope(signer, type="bench.note", org=WRITER, body={"text": _note_text(n)}).raw
        for n in range(first, first + count)
    ]
    return b"[" + b",".join(raws) + b"]"


def _post(url: str, body: bytes, count: int) -> None:
    # A new connection per batch, as a bulk loader behind a balancer: the kernel then spreads
    # the batches over the workers' sockets instead of pinning a client to one worker.
    answer = httpx.post(
        url + "/v1/entries/batch?receipts=false",
        content=body,
        headers={"Content-Type": "application/json", "Connection": "close"},
        timeout=600,
    )
    answer.raise_for_status()
    result = answer.json()
    if result["accepted"] != count:
        problem = next(i["problem"] for i in result["items"] if i["problem"])
        raise RuntimeError(f"the ledger refused a bench entry: {problem}")


def _tree_root(url: str, size: int) -> bytes:
    engine = make_engine(url)
    try:
        with read_transaction(engine) as conn:
            head = Repository(conn).head()
    finally:
        engine.dispose()
    if head is None or head.size != size:
        raise RuntimeError(f"the ledger holds {head and head.size} entries, not {size}")
    return head.root


def _snapshot(ledger: Ledger, into: Path) -> Ledger:
    """A copy of an SQLite ledger's home, its database copied online (SQLite's backup API)."""
    shutil.copytree(ledger.home, into, ignore=shutil.ignore_patterns("ledger.db*"))
    source = sqlite3.connect(ledger.home / "ledger.db")
    target = sqlite3.connect(into / "ledger.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return Ledger(ledger.size, into, None, ledger.root)


def build(root: Path, sizes: Sequence[int], database_url: str | None, progress: Progress) -> Build:
    """Fill a new ledger through `serve --workers 2` up to each of `sizes` in turn. On SQLite
    each stop but the last is copied aside; on PostgreSQL only the last size is kept."""
    home = root / "home"
    settings = Settings(home=home, database_url=database_url, extra_apps="")
    node, _ = init_home(settings, _bench_plan(), extra_apps=[BENCH_APP])
    with read_transaction(node.engine) as conn:
        done = Repository(conn).tree_size()  # genesis and the plan's entries
    node.close()
    live = Ledger(done, home, database_url)
    result = Build()
    backend = "PostgreSQL" if database_url else "SQLite"
    task = progress.add_task(f"building on {backend}", total=sizes[-1])
    progress.update(task, completed=done)
    context = multiprocessing.get_context("fork")
    with (
        _serving(live, "--workers", "2") as (url, server),
        context.Pool(2, initializer=_init_signer, initargs=(str(home),)) as signers,
        ThreadPoolExecutor(POSTERS) as posters,
    ):
        for size in sizes:
            started = time.perf_counter()
            _feed(url, signers, posters, done, size, lambda n: progress.advance(task, n))
            result.seconds += time.perf_counter() - started
            result.entries += size - done
            done = size
            result.worker_memory[size] = _largest_memory(server.pid)
            live = Ledger(size, home, database_url, _tree_root(live.url, size))
            if size != sizes[-1] and database_url is None:
                result.ledgers[size] = _snapshot(live, root / f"n{size}")
    result.ledgers[sizes[-1]] = live
    progress.remove_task(task)
    return result


def _feed(
    url: str,
    signers: Any,
    posters: ThreadPoolExecutor,
    first: int,
    last: int,
    advance: Callable[[int], None],
) -> None:
    """Entries `first` to `last` - 1: signed in the pool a few batches ahead, posted by
    POSTERS clients; returns once every batch is committed."""
    upcoming = first
    signing: deque[tuple[int, AsyncResult[bytes]]] = deque()
    posting: deque[tuple[int, Future[None]]] = deque()

    def sign_ahead() -> None:
        nonlocal upcoming
        while len(signing) < SIGN_AHEAD and upcoming < last:
            count = min(BATCH, last - upcoming)
            signing.append((count, signers.apply_async(_sign_batch, (upcoming, count))))
            upcoming += count

    sign_ahead()
    while signing or posting:
        if signing and len(posting) < POSTERS:
            count, signed = signing.popleft()
            body = signed.get()
            sign_ahead()
            posting.append((count, posters.submit(_post, url, body, count)))
        else:
            count, posted = posting.popleft()
            posted.result()
            advance(count)


# --- measuring --------------------------------------------------------------------------------


def raw_verify_rate(seconds: float) -> float:
    """One core's raw Ed25519 verifications/s of a message the size of the bench's entries."""
    signer = Signer.generate("bench.local/org/bench-writer")
    envelope = sign_envelope(signer, type="bench.note", org=WRITER, body={"text": _note_text(0)})
    message = envelope.signed_message()
    key = signer.verifier
    assert key.verify(message, envelope.sig)
    return _rate(lambda: key.verify(message, envelope.sig), seconds)


def proof_medians(ledgers: Sequence[Ledger], samples: int) -> dict[int, tuple[float, float]]:
    """(median, p99) µs of an inclusion proof of a random entry per ledger.

    Each ledger gets one engine and read transaction for the whole measurement, as a server's
    pooled connection keeps its page cache and the engine its node cache, and PROOF_WARMUP
    proofs before any is timed. Then PROOF_ROUNDS rounds of a block per size, the sizes' order
    turning each round, so the machine's drift lands on every size alike (one proof each in
    turn would have the three trees evict each other's caches, which no server does). Every
    proof is verified against the ledger's root."""
    timings: dict[int, list[float]] = {ledger.size: [] for ledger in ledgers}
    made: dict[int, list[tuple[int, list[bytes]]]] = {ledger.size: [] for ledger in ledgers}
    with contextlib.ExitStack() as stack:
        conns: dict[int, Connection] = {}
        for ledger in ledgers:
            engine = make_engine(ledger.url)
            stack.callback(engine.dispose)
            conns[ledger.size] = conn = stack.enter_context(read_transaction(engine))
            rng = random.Random(f"warm-up/{ledger.size}")
            for _ in range(PROOF_WARMUP):
                inclusion_proof(conn, rng.randrange(ledger.size), ledger.size)
        rng = random.Random(f"proofs/{len(ledgers)}")
        for round_ in range(PROOF_ROUNDS):
            for turn in range(len(ledgers)):
                size = ledgers[(round_ + turn) % len(ledgers)].size
                conn = conns[size]
                for _ in range(samples // PROOF_ROUNDS):
                    index = rng.randrange(size)
                    started = time.perf_counter()
                    proof = inclusion_proof(conn, index, size)
                    timings[size].append(time.perf_counter() - started)
                    made[size].append((index, proof))
        for ledger in ledgers:
            _verify_all(conns[ledger.size], ledger, made[ledger.size])
    return {
        size: (
            statistics.median(t) * 1e6,
            statistics.quantiles(t, n=100, method="inclusive")[98] * 1e6,
        )
        for size, t in timings.items()
    }


def _verify_all(
    conn: Connection, ledger: Ledger, proofs: Sequence[tuple[int, list[bytes]]]
) -> None:
    leaves = Repository(conn).get_nodes((0, index) for index, _ in proofs)
    for index, proof in proofs:
        merkle.verify_inclusion(index, ledger.size, leaves[(0, index)], proof, ledger.root)


def server_memory(ledger: Ledger, requests: int) -> Memory:
    """Resident memory of `sealchain serve` (one worker) on the ledger after `requests`
    inclusion proofs of random entries and as many tile and checkpoint reads."""
    rng = random.Random(ledger.size)
    with _serving(ledger) as (url, server), httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(requests):
            index = rng.randrange(ledger.size)
            client.get(
                "/v1/proofs/inclusion", params={"index": index, "size": ledger.size}
            ).raise_for_status()
        for n in range(min(requests // 10, ledger.size // 256)):
            client.get(f"/tile/0/{_tile_path(n)}").raise_for_status()
            client.get("/checkpoint").raise_for_status()
        return _largest_memory(server.pid)


def _tile_path(n: int) -> str:
    """The tlog-tiles path of tile number `n`: groups of three digits, all but the last x-ed."""
    digits = f"{n:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def database_bytes(ledger: Ledger) -> tuple[int, float]:
    """(bytes the database takes, mean bytes of an entry)."""
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            mean = float(conn.execute(text("SELECT avg(length(data)) FROM entries")).scalar_one())
            if ledger.database_url:
                size = int(
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                )
                return size, mean
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    files = [ledger.home / name for name in ("ledger.db", "ledger.db-wal")]
    return sum(f.stat().st_size for f in files if f.exists()), mean


def audit_run(ledger: Ledger) -> tuple[float, Memory]:
    """`sealchain audit` on the ledger: entries/s over its wall time, and its peak memory."""
    seconds, peak = _run_watched(_sealchain("audit", "--home", str(ledger.home)), ledger.env())
    return ledger.size / seconds, peak


def reindex_run(ledger: Ledger) -> float:
    """`sealchain reindex` on the ledger: entries/s over its wall time."""
    seconds, _ = _run_watched(_sealchain("reindex", "--home", str(ledger.home)), ledger.env())
    return ledger.size / seconds


def pymerkle_medians(ledger: Ledger, path: Path, console: Console) -> tuple[float, float] | None:
    """(pymerkle's, ours) median µs of an inclusion proof on the same entries as `ledger`, or
    None when pymerkle is not installed. pymerkle's SqliteTree is fed the same entries and its
    root must be ours (the same leaves). Then both sides are measured in the same minutes: the
    same PYMERKLE_WARMUP proofs each (its tree object and our engine kept throughout), then
    blocks of PYMERKLE_BLOCK random leaves proven by one side and then the other, which side goes
    first turning each block; every proof of ours is verified."""
    try:
        from pymerkle import SqliteTree  # type: ignore[import-untyped,unused-ignore]  # the bench extra
    except ImportError:
        console.print(
            "[yellow]pymerkle is not installed: the peer comparison rows are left out "
            "(pip install 'sealchain[bench]')[/yellow]"
        )
        return None
    engine = make_engine(ledger.url)
    tree = SqliteTree(str(path))
    size = ledger.size
    try:
        with read_transaction(engine) as conn:
            tree.append_entries(
                entry.data for entry in Repository(conn).iter_entries(0, batch=5000)
            )
        if tree.get_size() != size or tree.get_root(size) != ledger.root:
            raise RuntimeError("pymerkle's tree of the same entries has another root")
        theirs: list[float] = []
        ours: list[float] = []
        made: list[tuple[int, list[bytes]]] = []
        rng = random.Random(size)
        with read_transaction(engine) as conn:

            def prove_theirs(index: int) -> None:
                tree.prove_inclusion(index + 1, size)  # pymerkle counts leaves from one

            def prove_ours(index: int) -> None:
                made.append((index, inclusion_proof(conn, index, size)))

            for _ in range(PYMERKLE_WARMUP):
                index = rng.randrange(size)
                prove_theirs(index)
                prove_ours(index)
            made.clear()
            deadline = time.perf_counter() + PYMERKLE_SECONDS
            while len(theirs) < PYMERKLE_SAMPLES and (
                len(theirs) < 2 * PYMERKLE_BLOCK or time.perf_counter() < deadline
            ):
                block = [rng.randrange(size) for _ in range(PYMERKLE_BLOCK)]
                sides = [(prove_theirs, theirs), (prove_ours, ours)]
                if len(theirs) // PYMERKLE_BLOCK % 2:
                    sides.reverse()
                for prove, timings in sides:
                    for index in block:
                        started = time.perf_counter()
                        prove(index)
                        timings.append(time.perf_counter() - started)
            _verify_all(conn, ledger, made)
    finally:
        tree.close()
        engine.dispose()
        path.unlink(missing_ok=True)
    return statistics.median(theirs) * 1e6, statistics.median(ours) * 1e6


# --- PostgreSQL databases ---------------------------------------------------------------------


def postgres_admin_url() -> str | None:
    return os.environ.get("SEALCHAIN_BENCH_PG_URL") or os.environ.get("SEALCHAIN_TEST_PG_URL")


@contextlib.contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    name = f"sealchain_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the run ----------------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class _Steps:
    """Each step printed with the time it started, and shown as a pulsing bar with the time it
    has taken so far until the next one starts."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console, self.progress = console, progress
        self.task: TaskID | None = None

    def __call__(self, what: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {what}")
        self.done()
        self.task = self.progress.add_task(what, total=None)

    def done(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None


def run(*, quick: bool = False, console: Console | None = None) -> list[BenchRow]:
    """A ledger of 10^6 entries (10^4 with --quick) through the real server: proofs, server
    memory, audit, reindex and bytes per entry at three sizes, pymerkle, PostgreSQL."""
    console = console or Console()
    sizes = QUICK if quick else FULL
    rows: list[BenchRow] = []
    with (
        tempfile.TemporaryDirectory(prefix="sealchain-bench-scale-") as tmp,
        _progress(console) as progress,
    ):
        root = Path(tmp)
        step = _Steps(console, progress)
        step(f"SQLite: building {sizes.sqlite[-1]:,} entries")
        built = build(root / "sqlite", sizes.sqlite, None, progress)
        rows += _measure(built, "scale", sizes, root, step, quick=quick)
        admin = postgres_admin_url()
        if admin is None:
            console.print(
                "[yellow]no PostgreSQL (set SEALCHAIN_BENCH_PG_URL): its rows are left out[/yellow]"
            )
        else:
            rows += _postgres(admin, sizes, root, step, progress, quick=quick)
        step.done()
    return rows


def _measure(
    built: Build, prefix: str, sizes: Sizes, root: Path, step: _Steps, *, quick: bool
) -> list[BenchRow]:
    ledgers = [built.ledgers[n] for n in sorted(built.ledgers)]
    small, large = ledgers[0], ledgers[-1]
    full = not quick and large.size == 10**6
    note = None if prefix == "scale" else _postgres_note(quick)
    rows: list[BenchRow] = []
    raw_before = raw_verify_rate(1.0)

    rows.append(
        BenchRow(
            f"{prefix}.ingest.entries_per_s.n={large.size}",
            built.rate,
            "entries/s",
            raw_before,
            note=(f"{note}; " if note else "")
            + "serve --workers 2, 1000-entry batches from 4 clients, signed on the same 2 cores; "
            "baseline: one core's raw Ed25519 verifications/s",
        )
    )
    if prefix == "scale":
        for kind in ("resident", "anonymous"):
            unit = "rss" if kind == "resident" else "anon"
            rows.append(
                BenchRow(
                    f"{prefix}.server.build_{unit}_mb.n={large.size}",
                    getattr(built.worker_memory[large.size], kind),
                    "MB",
                    getattr(built.worker_memory[small.size], kind),
                    note=f"{kind} memory of the largest of the build server's processes "
                    f"(two workers and the block writer); baseline: at n={small.size}",
                )
            )

    step(f"{prefix}: inclusion proofs at {', '.join(f'{x.size:,}' for x in ledgers)}")
    proofs = proof_medians(ledgers, PROOF_SAMPLES)
    base_median, base_p99 = proofs[small.size]
    for ledger in ledgers:
        median, p99 = proofs[ledger.size]
        last = ledger is large and full
        rows.append(
            BenchRow(
                f"{prefix}.proof.median_us.n={ledger.size}",
                median,
                "µs",
                None if ledger is small else base_median,
                goal=1.3 if last else None,
                goal_op="<=",
            )
        )
        rows.append(
            BenchRow(
                f"{prefix}.proof.p99_us.n={ledger.size}",
                p99,
                "µs",
                None if ledger is small else base_p99,
            )
        )

    served: dict[int, Memory] = {}
    requests = SERVER_PROOFS if not quick else 200
    for ledger in ledgers:
        step(f"{prefix}: server memory at {ledger.size:,}")
        served[ledger.size] = server_memory(ledger, requests)
    rows += _memory_rows(
        f"{prefix}.server.{{unit}}_mb.n={{size}}",
        served,
        (
            ("resident", "rss", "VmRSS: all resident memory (SQLite maps no database pages)"),
            ("anonymous", "anon", "RssAnon: the process's own memory, without mapped files"),
        ),
        f"sealchain serve, one worker, after {requests} proofs and tile reads; {{what}}",
        goal=200,
    )

    step(f"{prefix}: bytes per entry")
    stored, mean_entry = database_bytes(large)
    rows.append(
        BenchRow(
            f"{prefix}.db.bytes_per_entry.n={large.size}",
            stored / large.size,
            "bytes",
            mean_entry,
            note="baseline: the mean entry's own bytes",
        )
    )

    peaks: dict[int, Memory] = {}
    audit_rate = 0.0
    for ledger in ledgers:
        step(f"{prefix}: sealchain audit at {ledger.size:,}")
        rate, peaks[ledger.size] = audit_run(ledger)
        if ledger is large:
            audit_rate = rate
    raw_after = raw_verify_rate(1.0)
    raw = statistics.fmean((raw_before, raw_after))
    rows.append(
        BenchRow(
            f"{prefix}.audit.entries_per_s" + ("" if prefix == "scale" else f".n={large.size}"),
            audit_rate,
            "entries/s",
            raw,
            goal=1.5,
            note=f"at n={large.size}, wall time of the command; baseline: one core's raw Ed25519 "
            "verifications/s of the same messages, the mean of just before and just after",
        )
    )
    rows += _memory_rows(
        f"{prefix}.audit.peak_{{unit}}_mb.n={{size}}",
        peaks,
        (
            ("resident", "pss", "all of its memory, the mapped database pages included"),
            ("anonymous", "anon", "Pss_Anon: its own memory, without mapped files"),
        ),
        f"peak PSS of the audit and its workers: {{what}}; baseline: at n={small.size}",
    )

    step(f"{prefix}: sealchain reindex at {large.size:,}")
    rows.append(
        BenchRow(
            f"{prefix}.reindex.entries_per_s.n={large.size}",
            reindex_run(large),
            "entries/s",
            built.rate,
            note="baseline: the build's ingest entries/s",
        )
    )

    if prefix == "scale":
        for size in sizes.pymerkle:
            peer = built.ledgers.get(size)
            if peer is None:
                continue
            step(f"pymerkle SqliteTree at {size:,}")
            medians = pymerkle_medians(peer, root / f"pymerkle-{size}.db", step.console)
            if medians is None:
                break
            theirs, ours = medians
            goal = None if quick else PYMERKLE_GOALS.get(size)
            rows.append(
                BenchRow(
                    f"scale.proof.pymerkle_ratio.n={size}",
                    theirs,
                    "µs",
                    ours,
                    goal=goal,
                    note="value: pymerkle SqliteTree's median proof µs; baseline: ours, measured "
                    "taking turns with it in blocks of 20 leaves; ratio: how many times faster "
                    "ours is",
                )
            )
    return rows


def _memory_rows(
    name: str,
    memories: dict[int, Memory],
    kinds: Sequence[tuple[str, str, str]],
    note: str,
    goal: float | None = None,
) -> list[BenchRow]:
    """One row per (kind, size) of `memories` (sizes ascending): `name` and `note` are formats
    of {unit}, {size} and {what}; the smallest size is every other's baseline, and the largest
    carries the note and the goal (a value in MB, at most)."""
    small, large = min(memories), max(memories)
    return [
        BenchRow(
            name.format(unit=unit, size=size),
            getattr(memory, kind),
            "MB",
            None if size == small else getattr(memories[small], kind),
            goal=goal if size == large else None,
            goal_on="value",
            goal_op="<=",
            note=note.format(what=what) if size == large else None,
        )
        for kind, unit, what in kinds
        for size, memory in memories.items()
    ]


def _postgres_note(quick: bool) -> str:
    what = "PostgreSQL at 10^3 and 10^5, not 10^6: its build runs at about half SQLite's rate "
    what += "here, and 10^6 would not fit the 30-minute run"
    return ("PostgreSQL, quick sizes" if quick else what) + "; the same measures as SQLite's"


def _postgres(
    admin: str, sizes: Sizes, root: Path, step: _Steps, progress: Progress, *, quick: bool
) -> list[BenchRow]:
    with _postgres_database(admin) as small_url, _postgres_database(admin) as large_url:
        small_size, large_size = sizes.postgres
        step(f"PostgreSQL: building {small_size:,} and {large_size:,} entries")
        small = build(root / "pg-small", [small_size], small_url, progress)
        large = build(root / "pg-large", [large_size], large_url, progress)
        large.ledgers[small_size] = small.ledgers[small_size]
        large.worker_memory[small_size] = small.worker_memory[small_size]
        return _measure(large, "scale.pg", sizes, root, step, quick=quick)
