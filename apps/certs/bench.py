"""`sealchain bench certs`: credential verifications per second (the `sealchain certs verify`
checks, in-process) against one core's raw Ed25519 verify rate; bulk CSV rows per second; and
status-as-of requests per second against hello-world requests from the same client in the same
run."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from apps.certs import builders, offline
from ledger.core.envelope import sign_envelope
from ledger.core.policy import TrustPolicy
from ledger.plugin import (
    BenchRow,
    Home,
    Settings,
    demo_plan,
    ed25519_verifies_per_second,
    init_home,
    run_wrk,
    serving_hello,
    serving_ledger,
    wrk_available,
)

BODY = "nfcc"
REPORT = "0" * 64  # a lab report's SHA-256: what it is does not change the cost


def _populate(home: Path, count: int, console: Console | None = None) -> list[dict[str, Any]]:
    node, signers = init_home(Settings(home=home), demo_plan())
    assert node.sequencer is not None
    record = builders.accredit(BODY, ["pos"], date(2019, 1, 1), date(2029, 12, 31))
    node.sequencer.submit(
        [sign_envelope(signers["pboc"], type=record[0], org="pboc", body=record[1]).raw]
    )
    credentials = []
    batch = []
    for n in range(count):
        signed = builders.credential(
            signers[BODY], number=f"PBOC-POS-B-{n:07d}", product_type="pos", catalog="2019",
            product_name="Bench POS", model=f"B-{n % 97}", version="1.0", manufacturer="pos-maker",
            body=BODY, valid_from=date(2020, 1, 1), valid_until=date(2022, 12, 31),
            status_index=n, base_url="http://127.0.0.1",
        )  # fmt: skip
        credentials.append(signed)
        application = f"APP-B-{n:07d}"
        for org, (t, b) in (
            ("pos-maker", builders.application_for(application, date(2019, 11, 1), signed)),
            ("lab-one", builders.lab_report(application, date(2019, 12, 1), "pass", REPORT, "T")),
            (BODY, builders.issue(signed, application)),
        ):
            batch.append(sign_envelope(signers[org], type=t, org=org, body=b).raw)
        if len(batch) >= 600:
            node.sequencer.submit(batch)
            batch = []
        if console is not None and (n + 1) % 10_000 == 0:
            console.print(f"  {n + 1:,} of {count:,} certificates on the ledger")
    if batch:
        node.sequencer.submit(batch)
    node.close()
    return credentials


def _checks_per_second(credentials: list[dict[str, Any]], trust: TrustPolicy) -> float:
    started = time.perf_counter()
    for credential in credentials:
        offline.check_credential(credential, trust)
    return len(credentials) / (time.perf_counter() - started)


def _requests_per_second(url: str, paths: list[str], seconds: float) -> float:
    """GET requests/s over `paths`: wrk when installed (a Python client would be the
    bottleneck), else 8 threads with a kept-alive client each."""
    if wrk_available():
        return run_wrk(url, paths[0], method="GET", lines=paths, concurrency=32, seconds=seconds)[
            "rps"
        ]
    done = 0
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> int:
        made = 0
        with httpx.Client(base_url=url) as http:
            while time.perf_counter() < deadline:
                http.get(paths[(offset + made) % len(paths)]).raise_for_status()
                made += 1
        return made

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(worker, range(8)))
    return done / (time.perf_counter() - started)


def bench_certs(*, quick: bool, console: Console) -> list[BenchRow]:
    count, requests, seconds = (500, 200, 2.0) if quick else (100_000, 2_000, 10.0)
    verify_seconds = 1.0 if quick else 3.0
    with tempfile.TemporaryDirectory(prefix="sealchain-bench-certs-") as tmp:
        home = Path(tmp) / "home"
        credentials = _populate(home, count, console)
        trust = Home(home).trust_policy()
        # The baseline just before and just after the checks, not before the minutes of
        # populating: this machine's speed drifts by a third over minutes.
        before = ed25519_verifies_per_second(verify_seconds)
        checks = _checks_per_second(credentials[:2000], trust)
        verify_rate = (before + ed25519_verifies_per_second(verify_seconds)) / 2
        rows = "\n".join(f"PBOC-POS-B-{n % count:07d},2021-06-01" for n in range(requests * 5))
        with serving_ledger(home) as url:
            started = time.perf_counter()
            answer = httpx.post(
                url + "/v1/certs/bulk/verify.csv", content=rows.encode(), timeout=300
            )
            answer.raise_for_status()
            bulk = requests * 5 / (time.perf_counter() - started)
            paths = [
                f"/v1/certs/PBOC-POS-B-{n:07d}/status?at=2021-{1 + n % 12:02d}-01"
                for n in range(0, count, max(1, count // 200))
            ]
            status = _requests_per_second(url, paths, seconds)
            # What any ledger route costs (middleware, a read transaction, JSON): the floor
            # a status answer stands on, so the report says how much of the gap is ours.
            floor = _requests_per_second(url, ["/v1/checkpoint"], seconds)
        with serving_hello() as url:
            hello = _requests_per_second(url, ["/hello"], seconds)
    table_rows = [
        BenchRow("certs.verify_per_s", checks, "credentials/s", verify_rate, goal=0.5),
        BenchRow(f"certs.bulk_csv_rows_per_s.n={count}", bulk, "rows/s"),
        BenchRow(f"certs.status_rps.n={count}", status, "requests/s", hello, goal=0.3),
        BenchRow(f"certs.status_vs_checkpoint_rps.n={count}", status, "requests/s", floor),
    ]
    table = Table(title=f"sealchain bench certs ({count} certificates)")
    for column in ("measure", "value", "baseline", "ratio"):
        table.add_column(column)
    for row in table_rows:
        ratio = "" if row.baseline is None else f"{row.value / row.baseline:.2f}"
        base = "" if row.baseline is None else f"{row.baseline:,.0f}"
        table.add_row(row.name, f"{row.value:,.0f} {row.unit}", base, ratio)
    console.print(table)
    return table_rows
