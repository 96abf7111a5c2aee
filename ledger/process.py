"""Running an HTTP server in a child process: `sealchain demo`, the benchmarks and the
end-to-end tests all start one, wait until it answers, and stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
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


def witness_command(home: Path, name: str, port: int, log_url: str, *options: str) -> list[str]:
    """`sealchain witness` for member `name` of the consortium in `home`."""
    return [
        sys.executable,
        "-m",
        "ledger.cli",
        "witness",
        "--home",
        str(home),
        "--name",
        name,
        "--port",
        str(port),
        "--log",
        log_url,
        *options,
    ]


@contextmanager
def consortium(
    home: Path,
    port: int,
    witness_ports: Mapping[str, int],
    *,
    logs: Path | None = None,
    env: Mapping[str, str] | None = None,
    serve_options: Sequence[str] = (),
) -> Iterator[tuple[str, dict[str, str]]]:
    """The log (`sealchain serve` on `port`) and a witness per `witness_ports` entry, each a
    child process; yields (log URL, {witness: URL}) once all answer, and stops them all.

    The witnesses start first, so the log's first checkpoints find them listening; the log is
    told where they are with SEALCHAIN_WITNESS_URLS. Each writes its output to
    `logs/<name>.log` (`logs/server.log` for the log) when `logs` is given."""
    log_url = f"http://127.0.0.1:{port}"
    urls = {name: f"http://127.0.0.1:{p}" for name, p in witness_ports.items()}
    where = {"SEALCHAIN_WITNESS_URLS": ",".join(f"{n}={u}" for n, u in urls.items())}
    with ExitStack() as stack:
        for name, witness_port in witness_ports.items():
            stack.enter_context(
                background_server(
                    witness_command(home, name, witness_port, log_url, "--follow-seconds", "0.5"),
                    witness_port,
                    env=dict(env or {}),
                    log=logs / f"{name}.log" if logs else None,
                    ready_path="/",
                )
            )
        stack.enter_context(
            background_server(
                serve_command(home, port, *serve_options),
                port,
                env={**(env or {}), **where},
                log=logs / "server.log" if logs else None,
            )
        )
        yield log_url, urls


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return f"; log {log}:\n{log.read_text(errors='replace')[-2000:]}"
