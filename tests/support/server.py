"""Running a real `sealchain serve` subprocess on a free port for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SEALCHAIN = str(Path(sys.executable).with_name("sealchain"))
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(home: Path, database_url: str | None = None, workers: int = 1) -> Iterator[str]:
    """Start `sealchain serve`, wait until /healthz answers, yield the base URL, stop it."""
    port = free_port()
    env = {
        **os.environ,
        "SEALCHAIN_EXTRA_APPS": "tests.support.sample_app:SAMPLE_APP",
        "PYTHONPATH": str(REPO),  # so the server can import the test app
    }
    if database_url:
        env["SEALCHAIN_DATABASE_URL"] = database_url
    log = home.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                SEALCHAIN,
                "serve",
                "--home",
                str(home),
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
