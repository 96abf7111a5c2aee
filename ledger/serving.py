"""`sealchain serve --workers N`: worker processes that each listen on their own socket.

uvicorn's own `--workers` shares one listening socket, and the worker that wakes first accepts
every connection that is waiting: a handful of clients connecting at once all land on one worker
and the other cores idle. Here each worker binds the port with SO_REUSEPORT, so the kernel
spreads new connections over the workers' sockets by their address hash, as nginx and gunicorn
do with `reuseport`.

The parent holds no socket. Before starting the workers it checks that nothing listens on the
port yet (a plain bind fails if anything does, even another group of SO_REUSEPORT sockets), so a
second `sealchain serve` on the same port is refused instead of silently sharing the traffic. It
forwards SIGINT and SIGTERM to the workers as SIGTERM (one graceful shutdown each: queued
entries are committed first) and stops them all when one of them dies, so a supervisor such as
systemd or Docker sees the failure and restarts the service. Workers stop on their own if the
parent disappears.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from types import FrameType

import uvicorn

APP_FACTORY = "ledger.api.app:app_from_env"
PARENT_CHECK_SECONDS = 1.0


class PortInUse(Exception):
    """Something already listens on the port."""


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def serve(host: str, port: int, workers: int, *, log_level: str = "warning") -> int:
    """Serve the API until told to stop; returns the exit status for the command."""
    if workers == 1 or not reuse_port_supported():
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,  # RequestContextMiddleware writes the access log, with request ids
        )
        return 0
    check_port_free(host, port)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_worker, args=(host, port, log_level, os.getpid()), name=f"sealchain-worker-{n}"
        )
        for n in range(workers)
    ]
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        while not stopping.is_set() and all(p.is_alive() for p in processes):
            stopping.wait(0.2)
        failed = not stopping.is_set()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUse if anything listens on host:port (SO_REUSEPORT groups included)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise PortInUse(f"cannot listen on {host}:{port}: {e.strerror}") from e


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound with SO_REUSEPORT, for one worker (uvicorn calls listen on it)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _worker(host: str, port: int, log_level: str, parent: int) -> None:
    # The parent turns a terminal's Ctrl-C into one SIGTERM per worker; a worker that got the
    # SIGINT too would take the second signal as "exit now" and skip its graceful shutdown.
    os.setpgrp()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    config = uvicorn.Config(
        APP_FACTORY, factory=True, host=host, port=port, log_level=log_level, access_log=False
    )
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
