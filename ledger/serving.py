"""`sealchain serve --workers N`: worker processes that each listen on their own socket.

uvicorn's own `--workers` shares one listening socket, and the worker that wakes first accepts
every connection that is waiting: a handful of clients connecting at once all land on one worker
and the other cores idle. Here each worker binds the port with SO_REUSEPORT, so the kernel
spreads new connections over the workers' sockets by their address hash, as nginx and gunicorn
do with `reuseport`.

The workers check what they are sent and hand the checked entries to one block writer process
over a Unix socket in a private temporary directory (ledger.service.block_writer): one block
carries every worker's entries, committed under a GIL of its own. The writer starts first; the
workers start once it listens.

The parent holds no socket. Before starting anything it checks that nothing listens on the
port yet (a plain bind fails if anything does, even another group of SO_REUSEPORT sockets), so a
second `sealchain serve` on the same port is refused instead of silently sharing the traffic. It
forwards SIGINT and SIGTERM as SIGTERM, to the workers first and then to the writer (one
graceful shutdown each: what the workers handed the writer is committed and answered first),
and stops them all when one of them dies, so a supervisor such as systemd or Docker sees the
failure and restarts the service. The children stop on their own if the parent disappears.

With one worker the process binds the socket itself and hands it to uvicorn. Either way a busy
port, a host that is not an address of this machine or a name that does not resolve raises
CannotListen, one line, before anything starts.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Event as EventType
from types import FrameType

import uvicorn

APP_FACTORY = "ledger.api.app:app_from_env"
PARENT_CHECK_SECONDS = 1.0
# A Unix socket's path holds at most 107 bytes on Linux: the directory, then
# "/sealchain-XXXXXXXX/writer.sock" (31 bytes).
SOCKET_DIR_MAX = 107 - 31


class CannotListen(Exception):
    """host:port cannot be listened on: something already listens there, the host is not an
    address of this machine, or its name does not resolve. The message is one line."""


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def serve(
    host: str,
    port: int,
    workers: int,
    *,
    log_level: str = "warning",
    announce: Callable[[], None] = lambda: None,
) -> int:
    """Serve the API until told to stop; returns the exit status for the command.

    Raises CannotListen before anything starts (and before `announce` is called) if host:port
    cannot be listened on, for one worker as for several.
    """
    if workers == 1:
        # Bound here rather than by uvicorn, which would log the failure over several lines
        # and exit 3.
        sock = bound_socket(host, port, reuse_port=False)
        announce()
        return _serve_one(sock, host, port, log_level)
    check_port_free(host, port)
    announce()
    if not reuse_port_supported():
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
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    # Mode 0700: ours alone.
    with tempfile.TemporaryDirectory(prefix="sealchain-", dir=socket_parent()) as private:
        socket_path = os.path.join(private, "writer.sock")
        writer = context.Process(
            target=_block_writer,
            args=(socket_path, (ready := context.Event()), os.getpid()),
            name="sealchain-writer",
        )
        worker_processes = [
            context.Process(
                target=_worker,
                args=(host, port, log_level, os.getpid(), socket_path),
                name=f"sealchain-worker-{n}",
            )
            for n in range(workers)
        ]
        try:
            writer.start()
            while not (stopping.is_set() or ready.wait(0.2)) and writer.is_alive():
                pass
            if ready.is_set() and not stopping.is_set():
                for process in worker_processes:
                    process.start()
                every = [writer, *worker_processes]
                while not stopping.is_set() and all(p.is_alive() for p in every):
                    stopping.wait(0.2)
            failed = not stopping.is_set()
        finally:
            # Workers first: what they were handed goes to the writer, which is still there.
            _stop_all(worker_processes)
            _stop_all([writer])
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 1 if failed else 0


def socket_parent() -> str:
    """Where the writer's private directory goes: the temporary directory, or /tmp when that
    is too long a path for a Unix socket (the writer could not listen)."""
    chosen = tempfile.gettempdir()
    return chosen if len(chosen) <= SOCKET_DIR_MAX else "/tmp"  # noqa: S108 - mkdtemp in it


def _stop_all(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        if process.pid is None:
            continue  # never started
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()


def _serve_one(sock: socket.socket, host: str, port: int, log_level: str) -> int:
    config = uvicorn.Config(
        APP_FACTORY, factory=True, host=host, port=port, log_level=log_level, access_log=False
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it stopped for
        pass
    except SystemExit as e:  # uvicorn exits 3 when the application fails to start
        return e.code if isinstance(e.code, int) else 1
    finally:
        sock.close()
    return 0 if server.started else 1


def check_port_free(host: str, port: int) -> None:
    """Raise CannotListen if host:port cannot be bound (SO_REUSEPORT groups included)."""
    bound_socket(host, port, reuse_port=False).close()


def bound_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to host:port (uvicorn calls listen on it); raises CannotListen."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        sock = socket.socket(_family(host), socket.SOCK_STREAM)
    except OSError as e:  # e.g. IPv6 disabled in the kernel
        raise CannotListen(f"cannot listen on {where}: {e.strerror or e}") from e
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except (OSError, UnicodeError) as e:  # UnicodeError: a host name IDNA cannot encode
        sock.close()
        cause = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise CannotListen(f"cannot listen on {where}: {cause}") from e
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound with SO_REUSEPORT, for one of several workers."""
    return bound_socket(host, port, reuse_port=True)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _worker(host: str, port: int, log_level: str, parent: int, writer_socket: str) -> None:
    _detach(parent)
    os.environ["SEALCHAIN_WRITER_SOCKET"] = writer_socket  # read by the app factory's Settings
    config = uvicorn.Config(
        APP_FACTORY, factory=True, host=host, port=port, log_level=log_level, access_log=False
    )
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def _block_writer(path: str, ready: EventType, parent: int) -> None:
    _detach(parent)
    from ledger.api.writer import run_block_writer  # the API's imports, in this process only

    run_block_writer(path, ready.set)


def _detach(parent: int) -> None:
    # The parent turns a terminal's Ctrl-C into one SIGTERM per process; a child that got the
    # SIGINT too would take the second signal as "exit now" and skip its graceful shutdown.
    os.setpgrp()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
