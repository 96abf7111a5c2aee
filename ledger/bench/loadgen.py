"""Load generator for `sealchain bench api`, run as its own process so it does not share the
server's interpreter: `python -m ledger.bench.loadgen MODE URL ...` prints one JSON line.

Modes: `hello` (GET the URL's /hello, or --path), `submit` (POST one pre-signed envelope per
request), `batch` (POST batches of pre-signed envelopes). Envelopes are signed before the clock
starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ledger.core.envelope import sign_envelope
from ledger.home import Home


def _envelopes(home: Path, org: str, count: int, record_type: str) -> list[bytes]:
    signer = Home(home).member_signer(org)
    return [
        sign_envelope(signer, type=record_type, org=org, body={"text": f"load {i}"}).raw
        for i in range(count)
    ]


async def _run(args: argparse.Namespace) -> dict[str, float]:
    bodies: list[bytes] = []
    if args.mode == "submit":
        bodies = _envelopes(args.home, args.org, args.requests, args.type)
    elif args.mode == "batch":
        raws = _envelopes(args.home, args.org, args.requests * args.batch, args.type)
        bodies = [
            b"[" + b",".join(raws[i : i + args.batch]) + b"]"
            for i in range(0, len(raws), args.batch)
        ]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    for body in bodies or [b""] * args.requests:
        queue.put_nowait(body)
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=args.url, timeout=120, limits=limits) as client:
        # Like wrk's -d: with --seconds, no request starts after the deadline, so a slow
        # machine measures for as long as a fast one instead of working through the queue.
        deadline = math.inf if args.seconds is None else time.perf_counter() + args.seconds

        async def worker() -> None:
            nonlocal errors
            while not queue.empty() and time.perf_counter() < deadline:
                body = queue.get_nowait()
                started = time.perf_counter()
                if args.mode == "hello":
                    response = await client.get(args.path)
                elif args.mode == "submit":
                    response = await client.post("/v1/entries", content=body)
                else:
                    response = await client.post("/v1/entries/batch?receipts=false", content=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    per_request = args.batch if args.mode == "batch" else 1
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "items_per_second": len(latencies) * per_request / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


WRK_SCRIPT = Path(__file__).with_name("wrk.lua")


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    path: str,
    *,
    method: str,
    lines: list[str],
    concurrency: int,
    seconds: float,
    new_connections: bool = False,
) -> dict[str, float]:
    """Drive the server with wrk (C, its own process): the fastest load generator here.

    `lines` are request bodies (POST) or paths (GET), each used once before cycling.
    `new_connections` sends `Connection: close`, so each request connects anew and the kernel
    picks the worker for each one rather than once per connection for the whole run.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk is not installed (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        listing = f.name
    try:
        done = subprocess.run(  # noqa: S603 - wrk from PATH, fixed arguments
            [
                wrk,
                "-t1",
                f"-c{concurrency}",
                f"-d{seconds:.0f}s",
                "--timeout",
                "60s",
                "-s",
                str(WRK_SCRIPT),
                url.rstrip("/") + path,
                "--",
                method,
                listing,
                "close" if new_connections else "keep-alive",
            ],
            capture_output=True,
            check=True,
            text=True,
        )
    finally:
        Path(listing).unlink()
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("SEALCHAIN "))
    result: dict[str, float] = json.loads(line[len("SEALCHAIN ") :])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["hello", "submit", "batch"])
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, help="start no request after this many seconds")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--org", default="bench-writer")
    parser.add_argument("--type", default="bench.note")
    parser.add_argument("--path", default="/hello", help="what `hello` GETs")
    args = parser.parse_args(argv)
    json.dump(asyncio.run(_run(args)), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
