"""`sealchain bench core`: the ledger's hot paths, each against a baseline measured in the same run.

1. raw Ed25519 verifications/s (cryptography, one fixed message the size of a typical signed
   envelope) vs full envelope checks/s: strict parse + schema + JCS (`parse_envelope`) and
   `Envelope.verify_signature`;
2. sequencer appends/s into SQLite (`Sequencer.submit`, the whole pipeline, one block per 500
   envelopes) vs a raw `executemany` of the same entry bytes into a bare table with the same
   pragmas (WAL, synchronous=FULL), one transaction per 500;
3. inclusion-proof time (`ledger.service.proofs.inclusion_proof`, read from stored node hashes)
   at 10^3, 10^5 and 10^6 entries; the target is flat: the 10^6 figure within 2x of 10^3.

Every figure is printed next to its baseline as a ratio, so the ratios survive a slower machine.
Nothing here asserts a time. Results and the machine they came from go in docs/benchmarks.md.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.bench.report import BenchRow, machine, machine_description
from ledger.config import Settings
from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import Envelope, format_ts, parse_envelope, sign_envelope
from ledger.core.keys import Signer
from ledger.service.app import App, RecordType
from ledger.service.consortium import ConsortiumPlan, OrgPlan
from ledger.service.membership import ADMIN_ROLE
from ledger.service.node import init_home
from ledger.service.pipeline import utc_now
from ledger.service.proofs import inclusion_proof
from ledger.service.sequencer import Accepted
from ledger.storage.engine import make_engine, read_transaction, write_transaction
from ledger.storage.repository import Repository

BATCH = 500  # envelopes per block, and rows per baseline transaction
NODE_CHUNK = 10_000  # node rows per executemany when building a tree for section 3
PROOF_SAMPLES = 200
PROOF_ROUNDS = 5  # PROOF_SAMPLES split into rounds that alternate between the sizes
BASELINE_RUNS = 5
TYPICAL_TEXT = "x" * 240  # a bench.note with this text is about 430 bytes, like an app record


class BenchNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=1000)]


BENCH_APP = App(
    name="bench",
    record_types=[RecordType("bench.note", BenchNote, frozenset({"bench.writer"}), "benchmark")],
)


# --- timing helpers -------------------------------------------------------------------------


def _rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second of `work()` over about `seconds` of wall time."""
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            work()
        calls += 50
    return calls / elapsed


def _table(title: str, *columns: str, numeric: bool = True) -> Table:
    """A table whose first column is a label and the others (numbers) align right."""
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="right" if i and numeric else "left")
    return table


# --- 1. signatures --------------------------------------------------------------------------


def _typical_envelope(signer: Signer) -> Envelope:
    return sign_envelope(signer, type="bench.note", org="bench-writer", body={"text": TYPICAL_TEXT})


def _raw_verify(message: bytes, signature: bytes, public: bytes) -> Callable[[], None]:
    key = Ed25519PublicKey.from_public_bytes(public)
    return lambda: key.verify(signature, message)


def ed25519_verifies_per_second(seconds: float = 2.0) -> float:
    """Raw Ed25519 verifications/s of a message the size of a typical signed envelope."""
    signer = Signer.generate("bench.local/org/bench-writer")
    message = _typical_envelope(signer).signed_message()
    verify = _raw_verify(message, signer.sign(message), signer.verifier.public_key)
    return _rate(verify, seconds)


def signature_rates(seconds: float, rounds: int) -> dict[str, float]:
    """Raw verify/s, envelope parse/s and full envelope checks/s: each the median of `rounds`
    interleaved measurements of `seconds`, so drift in the machine hits all three alike."""
    signer = Signer.generate("bench.local/org/bench-writer")
    envelope = _typical_envelope(signer)
    raw, verifier = envelope.raw, signer.verifier
    message = envelope.signed_message()
    raw_verify = _raw_verify(message, envelope.sig, verifier.public_key)

    def full_check() -> None:
        parse_envelope(raw).verify_signature(verifier)

    parse_envelope(raw).verify_signature(verifier)  # the measured work is valid work
    samples: dict[str, list[float]] = {"raw": [], "parse": [], "full": []}
    for _ in range(rounds):
        samples["raw"].append(_rate(raw_verify, seconds))
        samples["parse"].append(_rate(lambda: parse_envelope(raw), seconds))
        samples["full"].append(_rate(full_check, seconds))
    return {
        "raw_verify_per_s": statistics.median(samples["raw"]),
        "envelope_parse_per_s": statistics.median(samples["parse"]),
        "envelope_check_per_s": statistics.median(samples["full"]),
        "entry_bytes": float(len(raw)),
        "message_bytes": float(len(message)),
    }


# --- 2. appends -----------------------------------------------------------------------------


def _bench_plan() -> ConsortiumPlan:
    return ConsortiumPlan(
        consortium="bench",
        namespace="bench.local",
        admins=["bench-admin"],
        orgs=[
            OrgPlan("bench-admin", "Benchmark admin", (ADMIN_ROLE,)),
            OrgPlan("bench-writer", "Benchmark writer", ("bench.writer",)),
        ],
    )


class _Stopwatch:
    """Wraps a callable and adds up the wall time spent in it."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def _executemany_baseline(path: Path, raws: Sequence[bytes]) -> float:
    """Seconds to insert `raws` into a bare table, one transaction per BATCH."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        started = time.perf_counter()
        for i in range(0, len(raws), BATCH):
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO entries (idx, data) VALUES (?, ?)",
                [(i + j, raw) for j, raw in enumerate(raws[i : i + BATCH])],
            )
            db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()


def append_rates(root: Path, count: int) -> dict[str, float]:
    """Sequencer appends/s (Sequencer.submit per BATCH) vs executemany of the same bytes."""
    home = root / "seq"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'ledger.db'}", extra_apps="")
    node, signers = init_home(settings, _bench_plan(), extra_apps=[BENCH_APP])
    try:
        sequencer = node.sequencer
        assert sequencer is not None
        signer = signers["bench-writer"]
        raws = [
            sign_envelope(
                signer, type="bench.note", org="bench-writer", body={"text": f"note {i}"}
            ).raw
            for i in range(count)
        ]
        # submit() calls self.precheck_all and self.commit_block: time each on this instance.
        precheck = _Stopwatch(sequencer.precheck_all)
        commit = _Stopwatch(sequencer.commit_block)
        setattr(sequencer, "precheck_all", precheck)  # noqa: B010 (an instance override)
        setattr(sequencer, "commit_block", commit)  # noqa: B010
        started = time.perf_counter()
        for i in range(0, count, BATCH):
            outcomes = sequencer.submit(raws[i : i + BATCH])
            rejected = [o for o in outcomes if not isinstance(o, Accepted)]
            if rejected:  # a benchmark of rejections would measure the wrong thing
                raise RuntimeError(f"bench envelope rejected: {rejected[0]!r}")
        pipeline = time.perf_counter() - started
        delattr(sequencer, "precheck_all")
        delattr(sequencer, "commit_block")
    finally:
        node.close()
    # Ten small fsync-bound transactions are noisy: median of five runs, each on a fresh file.
    raw_seconds = statistics.median(
        _executemany_baseline(root / f"raw-{n}.db", raws) for n in range(BASELINE_RUNS)
    )
    return {
        "sequencer_per_s": count / pipeline,
        "executemany_per_s": count / raw_seconds,
        "precheck_us_per_entry": precheck.seconds / count * 1e6,
        "commit_us_per_entry": commit.seconds / count * 1e6,
        "precheck_share": precheck.seconds / pipeline,
        "commit_share": commit.seconds / pipeline,
    }


# --- 3. inclusion proofs ----------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def build_tree_db(path: Path, size: int, console: Console) -> tuple[str, bytes]:
    """A migrated database whose nodes table holds a tree of `size` random leaves, plus one
    block row (height 0, first 0, count = size = `size`) so Repository.tree_size() is `size`.
    No envelope is signed: proofs read only node hashes. Returns (url, root)."""
    from ledger.storage.migrate import migrate  # alembic, for benchmarks only (ledger.plugin)

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        migrate(engine)
        rng = random.Random(size)  # the same tree every run
        tree = merkle.CompactRange()
        pending: list[tuple[int, int, bytes]] = []
        with _progress(console) as progress:
            task = progress.add_task(f"tree of {size:,} leaves", total=size)
            appended = 0
            while appended < size:
                step = min(NODE_CHUNK // 2, size - appended)  # ~2 node rows per leaf
                for _ in range(step):
                    pending.extend(tree.append(rng.randbytes(32)))
                appended += step
                if len(pending) >= NODE_CHUNK or appended == size:
                    with write_transaction(engine) as conn:
                        Repository(conn).insert_nodes(pending)
                    pending.clear()
                progress.update(task, completed=appended)
        root = tree.root()
        with write_transaction(engine) as conn:
            Repository(conn).insert_block(
                BlockHeader(0, GENESIS_PREV, format_ts(utc_now()), 0, size, size, root)
            )
    finally:
        engine.dispose()
    return url, root


def proof_times(
    url: str, size: int, root: bytes, samples: int, seed: int = 0
) -> tuple[list[float], float]:
    """Seconds per inclusion_proof(conn, i, size) for `samples` random i, each proof checked,
    and the mean number of stored nodes a proof reads."""
    engine = make_engine(url)
    rng = random.Random(f"{size}/{seed}")
    indexes = [rng.randrange(size) for _ in range(samples)]
    timings: list[float] = []
    try:
        with read_transaction(engine) as conn:
            for index in indexes[:20]:  # warm the statement cache and the connection
                inclusion_proof(conn, index, size)
            proofs = []
            for index in indexes:
                started = time.perf_counter()
                proof = inclusion_proof(conn, index, size)
                timings.append(time.perf_counter() - started)
                proofs.append(proof)
            leaves = Repository(conn).get_nodes((0, i) for i in indexes)
        for index, proof in zip(indexes, proofs, strict=True):
            merkle.verify_inclusion(index, size, leaves[(0, index)], proof, root)
    finally:
        engine.dispose()
    return timings, statistics.fmean(len(merkle.inclusion_nodes(i, size)) for i in indexes)


def _p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


# --- the run ----------------------------------------------------------------------------------


def run(*, quick: bool = False, console: Console | None = None) -> list[BenchRow]:
    """Ed25519 vs envelope checks, sequencer vs executemany, proof time at 10^3..10^6."""
    console = console or Console()
    figures = measure(quick=quick, console=console)
    return rows(figures, quick=quick)


def measure(*, quick: bool = False, console: Console | None = None) -> dict[str, float]:
    """Measure all three sections, print a table per section, return the figures."""
    console = console or Console()
    figures: dict[str, float] = {}
    started = time.perf_counter()

    table = _table(
        "sealchain bench core" + (" (quick)" if quick else ""), "machine", "", numeric=False
    )
    for key, value in machine().items():
        table.add_row(key, value)
    console.print(table)

    sig = signature_rates(0.3 if quick else 1.0, 1 if quick else 3)
    figures.update(sig)
    figures["envelope_ratio"] = sig["envelope_check_per_s"] / sig["raw_verify_per_s"]
    raw_rate = sig["raw_verify_per_s"]
    table = _table(
        f"1. signatures ({sig['entry_bytes']:.0f}-byte entry, "
        f"{sig['message_bytes']:.0f}-byte signed message)",
        "measure",
        "per second",
        "µs each",
        "ratio",
    )
    for label, rate in (
        ("raw Ed25519 verify", raw_rate),
        ("parse_envelope only", sig["envelope_parse_per_s"]),
        ("envelope check: parse + verify", sig["envelope_check_per_s"]),
    ):
        table.add_row(label, f"{rate:,.0f}", f"{1e6 / rate:,.1f}", f"{rate / raw_rate:.2f}")
    console.print(table)

    count = 500 if quick else 5000
    sizes = proof_sizes(quick)
    with tempfile.TemporaryDirectory(prefix="sealchain-bench-core-") as tmp:
        root = Path(tmp)
        app = append_rates(root, count)
        figures.update(app)
        figures["sequencer_ratio"] = app["sequencer_per_s"] / app["executemany_per_s"]
        table = _table(
            f"2. appends into SQLite ({count:,} entries, {BATCH} per block / transaction, "
            "WAL, synchronous=FULL)",
            "measure",
            "entries per second",
            "µs each",
            "ratio",
        )
        base = app["executemany_per_s"]
        table.add_row("raw executemany, same bytes", f"{base:,.0f}", f"{1e6 / base:,.1f}", "1.00")
        table.add_row(
            "Sequencer.submit (steps 1-10)",
            f"{app['sequencer_per_s']:,.0f}",
            f"{1e6 / app['sequencer_per_s']:,.1f}",
            f"{figures['sequencer_ratio']:.3f}",
        )
        table.add_row(
            f"  precheck_all: {app['precheck_share']:.0%}",
            "",
            f"{app['precheck_us_per_entry']:,.1f}",
            "",
        )
        table.add_row(
            f"  commit_block: {app['commit_share']:.0%}",
            "",
            f"{app['commit_us_per_entry']:,.1f}",
            "",
        )
        console.print(table)

        table = _table(
            f"3. inclusion proof from stored nodes ({PROOF_SAMPLES} random leaves per size)",
            "tree size",
            "nodes read",
            "median µs",
            "p99 µs",
            "ratio to 10^3",
        )
        table.columns[0].justify = "right"
        medians: dict[int, float] = {}
        trees = {size: build_tree_db(root / f"tree-{size}.db", size, console) for size in sizes}
        # Sizes take turns, round by round, so a burst of noise from the machine's neighbours
        # lands on every size alike instead of skewing the ratio.
        timings_by_size: dict[int, list[float]] = {size: [] for size in sizes}
        nodes_by_size: dict[int, list[float]] = {size: [] for size in sizes}
        for round_ in range(PROOF_ROUNDS):
            for size, (url, tree_root) in trees.items():
                timings, nodes_read = proof_times(
                    url, size, tree_root, PROOF_SAMPLES // PROOF_ROUNDS, seed=round_
                )
                timings_by_size[size] += timings
                nodes_by_size[size].append(nodes_read)
        for size in sizes:
            timings = timings_by_size[size]
            nodes_read = statistics.fmean(nodes_by_size[size])
            medians[size] = statistics.median(timings) * 1e6
            figures[f"proof_median_us_{size}"] = medians[size]
            figures[f"proof_p99_us_{size}"] = _p99(timings) * 1e6
            figures[f"proof_nodes_{size}"] = nodes_read
            table.add_row(
                f"{size:,}",
                f"{nodes_read:.1f}",
                f"{medians[size]:,.0f}",
                f"{figures[f'proof_p99_us_{size}']:,.0f}",
                f"{medians[size] / medians[sizes[0]]:.2f}",
            )
        figures["proof_ratio"] = medians[sizes[-1]] / medians[sizes[0]]
        console.print(table)

    figures["seconds"] = time.perf_counter() - started
    console.print(
        f"envelope check / raw verify {figures['envelope_ratio']:.2f}; "
        f"sequencer / executemany {figures['sequencer_ratio']:.3f}; "
        f"proof {sizes[-1]:,} / {sizes[0]:,} {figures['proof_ratio']:.2f} (flat target: <= 2); "
        f"{figures['seconds']:.0f} s"
    )
    return figures


def proof_sizes(quick: bool) -> list[int]:
    return [10**3, 10**4, 10**5] if quick else [10**3, 10**5, 10**6]


def rows(figures: dict[str, float], *, quick: bool) -> list[BenchRow]:
    """The figures as report rows, each beside its baseline of the same run."""
    raw = figures["raw_verify_per_s"]
    sizes = proof_sizes(quick)
    first = sizes[0]
    out = [
        BenchRow("core.sig.raw_verify_per_s", raw, "verifies/s"),
        BenchRow("core.sig.envelope_parse_per_s", figures["envelope_parse_per_s"], "parses/s", raw),
        BenchRow("core.sig.envelope_check_per_s", figures["envelope_check_per_s"], "checks/s", raw),
        BenchRow("core.append.executemany_per_s", figures["executemany_per_s"], "entries/s"),
        BenchRow(
            "core.append.sequencer_per_s",
            figures["sequencer_per_s"],
            "entries/s",
            figures["executemany_per_s"],
        ),
        BenchRow(
            "core.append.precheck_us_per_entry",
            figures["precheck_us_per_entry"],
            "µs",
            1e6 / raw,
            note="baseline: one raw Ed25519 verification, µs",
        ),
        BenchRow(
            "core.append.commit_us_per_entry",
            figures["commit_us_per_entry"],
            "µs",
            1e6 / figures["executemany_per_s"],
            note="baseline: one row of the raw executemany, µs",
        ),
    ]
    for kind, unit in (("median_us", "µs"), ("p99_us", "µs"), ("nodes", "nodes")):
        for size in sizes:
            name = "nodes_read" if kind == "nodes" else kind
            last = kind == "median_us" and size == sizes[-1] and not quick
            out.append(
                BenchRow(
                    f"core.proof.{name}.n={size}",
                    figures[f"proof_{kind}_{size}"],
                    unit,
                    None if size == first else figures[f"proof_{kind}_{first}"],
                    goal=2.0 if last else None,
                    goal_op="<=",
                    note="issue #2's target (within 2x of 10^3); issue #9's 1.3x is judged on "
                    "scale.proof.median_us"
                    if last
                    else None,
                )
            )
    return out


__all__ = [
    "BENCH_APP",
    "build_tree_db",
    "ed25519_verifies_per_second",
    "machine",
    "machine_description",
    "measure",
    "rows",
    "run",
]
