"""Running an HTTP server in a child process: `sealchain demo`, the benchmarks and the
end-to-end tests all start one, wait until it answers, and stop it."""

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


class ServerFailed(RuntimeError):
    """The child server exited or did not answer in time (the log says why)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command(home: Path, port: int, *options: str) -> list[str]:
    """`sealchain serve` for `home` with this interpreter, so it runs the same installation."""
    return [
        sys.executable,
        "-m",
        "ledger.cli",
        "serve",
        "--home",
        str(home),
        "--port",
        str(port),
        *options,
    ]


@contextmanager
def background_server(
    command: list[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    ready_path: str = "/healthz",
    timeout: float = 60.0,
) -> Iterator[str]:
    """Start `command`, yield its base URL once `ready_path` answers 2xx, then stop it.

    Output goes to `log` (appended) or is discarded. Raises ServerFailed if the process exits
    or does not answer within `timeout` seconds.
    """
    url = f"http://127.0.0.1:{port}"
    output = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - our own commands
        command, env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise ServerFailed(f"the server exited with {process.returncode}{_tail(log)}")
            try:
                if httpx.get(url + ready_path, timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServerFailed(f"the server did not answer within {timeout:.0f} s{_tail(log)}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            output.close()  # type: ignore[union-attr]


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return f"; log {log}:\n{log.read_text(errors='replace')[-2000:]}"
