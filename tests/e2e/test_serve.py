"""Against a real `sealchain serve` subprocess: the client, offline verification, and two worker
processes committing concurrently into one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ledger.client import LedgerClient
from ledger.errors import ForbiddenRole, LedgerError
from ledger.process import free_port, serve_command
from ledger.service.audit import audit
from ledger.storage.engine import read_transaction
from ledger.storage.tables import checkpoints
from tests.support.ledgers import LedgerFixture
from tests.support.server import REPO, SEALCHAIN, running_server


def client_for(ledger: LedgerFixture, url: str, org: str) -> LedgerClient:
    return LedgerClient(url, org, ledger.signers[org], ledger.node.home.trust_policy())


def test_submit_to_real_server_then_verify_offline(ledger: LedgerFixture, tmp_path: Path) -> None:
    home = ledger.settings.home
    with running_server(home, ledger.settings.database_url) as url:
        with client_for(ledger, url, "writer-a") as client:
            receipt = client.submit("sample.note", {"text": "served"})
            with pytest.raises(ForbiddenRole):
                client.submit("ledger.member.update", {"org": "reader", "active": False})
            assert client.entries(limit=5)["items"][-1]["index"] == receipt.index
            assert client.get_checkpoint()[0].size == 2
        path = tmp_path / "receipt.json"
        path.write_text(json.dumps(receipt.to_json()))
        cli = subprocess.run(
            [SEALCHAIN, "verify", str(path), "--home", str(home)], capture_output=True, check=False
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        data = bytearray(path.read_bytes())
        position = data.index(b'"served"') + 2
        data[position] ^= 0x01  # one byte of the entry changed
        path.write_bytes(bytes(data))
        cli = subprocess.run(
            [SEALCHAIN, "verify", str(path), "--home", str(home)], capture_output=True, check=False
        )
        assert cli.returncode == 1, cli.stdout
        assert b"FAIL (1)" in cli.stdout


@pytest.mark.slow
def test_two_workers_with_concurrent_clients(ledger: LedgerFixture) -> None:
    threads_n, per_thread = 8, 15
    errors: list[LedgerError] = []
    indexes: dict[int, str] = {}  # index -> the worker (pid) whose client submitted it
    lock = threading.Lock()
    with running_server(ledger.settings.home, ledger.settings.database_url, workers=2) as url:
        clients = _clients_on_both_workers(ledger, url, threads_n)

        def work(t: int) -> None:
            worker, client = clients[t]
            for i in range(per_thread):
                try:
                    receipt = client.submit("sample.note", {"text": f"{t}-{i}"})
                except LedgerError as e:
                    with lock:
                        errors.append(e)
                    continue
                with lock:
                    indexes[receipt.index] = worker

        threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _, client in clients:
            client.close()
    assert errors == []
    assert sorted(indexes) == list(range(1, 1 + threads_n * per_thread))
    with read_transaction(ledger.node.engine) as conn:
        sizes = conn.execute(select(checkpoints.c.size)).scalars().all()
        assert conn.execute(select(func.max(checkpoints.c.size))).scalar_one() == len(indexes) + 1
    assert len(sizes) == len(set(sizes))
    # One block writer commits for both workers, so blocks carry both workers' entries.
    blocks = zip([1, *sorted(sizes)], sorted(sizes), strict=False)
    assert any(len({indexes[i] for i in range(start, end)}) == 2 for start, end in blocks)
    result = audit(ledger.node.engine, ledger.node.registry)
    assert result.ok, result.first_bad


def _clients_on_both_workers(
    ledger: LedgerFixture, url: str, count: int
) -> list[tuple[str, LedgerClient]]:
    """`count` clients, half on each worker (a client keeps its one connection)."""
    chosen: dict[str, list[LedgerClient]] = {}
    for attempt in range(200):
        client = client_for(ledger, url, "writer-a" if attempt % 2 else "writer-b")
        worker = str(client.http.get("/healthz").json()["worker"])
        if len(chosen.setdefault(worker, [])) < count // 2:
            chosen[worker].append(client)
        else:
            client.close()
        if sum(len(c) for c in chosen.values()) == count:
            return [(w, c) for w, cs in chosen.items() for c in cs]
    raise AssertionError(f"new connections did not reach both workers: {list(chosen)}")


def test_workers_each_get_connections(ledger: LedgerFixture) -> None:
    # Each worker listens on its own SO_REUSEPORT socket; new connections spread over them.
    with running_server(ledger.settings.home, ledger.settings.database_url, workers=2) as url:
        workers = set()
        for _ in range(40):
            with httpx.Client(base_url=url) as fresh:  # a new connection each time
                workers.add(fresh.get("/healthz").json()["worker"])
    assert len(workers) == 2


def test_a_block_writer_that_dies_stops_the_service(ledger: LedgerFixture) -> None:
    """The writer killed: the workers cannot write, so `serve` stops them all and fails (exit
    2, as the command does for a server that stopped) for its supervisor to restart it: no
    worker is left answering 503 for ever."""
    port = free_port()
    env = {**os.environ, "SEALCHAIN_EXTRA_APPS": "tests.support.sample_app:SAMPLE_APP"}
    env["PYTHONPATH"] = str(REPO)
    if ledger.settings.database_url:
        env["SEALCHAIN_DATABASE_URL"] = ledger.settings.database_url
    command = serve_command(ledger.settings.home, port, "--workers", "2")
    serve = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            try:
                with httpx.Client(base_url=url) as fresh:  # a new connection, maybe a new worker
                    workers.add(fresh.get("/healthz").json()["worker"])
            except httpx.HTTPError:
                time.sleep(0.1)
        assert len(workers) == 2
        with client_for(ledger, url, "writer-a") as client:
            assert client.submit("sample.note", {"text": "before"}).index == 1
        others = [p for p in _children(serve.pid) if p not in workers]
        (writer,) = [p for p in others if b"resource_tracker" not in _cmdline(p)]
        os.kill(writer, signal.SIGKILL)
        assert serve.wait(timeout=60) == 2  # the command's exit status for a server that failed
        assert serve.stderr is not None
        assert b"the server stopped (exit status 1)" in serve.stderr.read()
        assert not any(Path(f"/proc/{w}").exists() for w in workers)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        assert serve.stderr is not None
        serve.stderr.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_serve_refuses_a_port_something_listens_on(ledger: LedgerFixture) -> None:
    env = dict(os.environ)
    if ledger.settings.database_url:  # the PostgreSQL ledger's home has no ledger.db
        env["SEALCHAIN_DATABASE_URL"] = ledger.settings.database_url
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for workers in ("1", "2"):
            done = subprocess.run(
                serve_command(ledger.settings.home, port, "--workers", workers),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=env,
            )
            assert done.returncode == 2, (workers, done.stderr)  # uvicorn's own would be 3
            assert "Traceback" not in done.stderr
            assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_submit_refused_by_another_ledgers_server_exits_2_not_1(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    # A wrong --url: a real Sealchain server, of another ledger. It refuses our key (403), which
    # verifies nothing: a usage error, not a failed verification.
    other = tmp_path / "other-home"
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # SEALCHAIN_EXTRA_APPS names the test app
    made = subprocess.run(
        [SEALCHAIN, "init", "--home", str(other)], capture_output=True, env=env, check=False
    )
    assert made.returncode == 0, made.stderr
    body = tmp_path / "body.json"
    body.write_text('{"org": "admin", "active": true}')
    with running_server(ledger.settings.home, ledger.settings.database_url) as url:
        done = subprocess.run(
            [SEALCHAIN, "submit", "--as", "admin", "--type", "ledger.member.update",
             "--body", str(body), "--url", url, "--home", str(other),
             "--out", str(tmp_path / "receipts")],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "unknown-key" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "receipts").iterdir())


def test_metrics_behind_a_local_proxy_are_not_found_by_the_forwarded_client(
    ledger: LedgerFixture,
) -> None:
    # uvicorn believes X-Forwarded-For from loopback (docs/api.md): a proxy on this machine that
    # passes it shows the real client, who is not in SEALCHAIN_METRICS_ALLOW.
    with running_server(ledger.settings.home, ledger.settings.database_url) as url:
        direct = httpx.get(url + "/metrics")
        proxied = httpx.get(url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert direct.status_code == 200 and "sealchain_" in direct.text
    assert proxied.status_code == 404
    assert proxied.headers["content-type"] == "application/problem+json"
    assert proxied.json()["code"] == "not-found"


def test_client_hanging_up_mid_body_is_logged_as_499_not_a_fault(ledger: LedgerFixture) -> None:
    home = ledger.settings.home
    with running_server(home, ledger.settings.database_url) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /v1/entries HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\nX-Request-Id: hung-up\r\n\r\n{}"
            )
        log = home.parent / f"serve-{port}.log"
        lines: list[dict] = []
        for _ in range(100):  # the server logs the request once it sees the hang-up
            lines = [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]
            if any(line.get("request_id") == "hung-up" for line in lines):
                break
            threading.Event().wait(0.05)
        assert httpx.get(url + "/healthz").status_code == 200
    (access,) = [line for line in lines if line.get("request_id") == "hung-up"]
    assert access["status"] == 499, access
    assert "Traceback" not in log.read_text() and "unhandled error" not in log.read_text()


def test_head_requests_keep_the_connection_usable(ledger: LedgerFixture) -> None:
    """uvicorn must still see HEAD while the app sees GET, or it waits for a body that never
    comes and drops the connection (TestClient cannot show this)."""
    home = ledger.settings.home
    with running_server(home, ledger.settings.database_url) as url, httpx.Client() as client:
        for path in ("/healthz", "/v1/checkpoint", "/healthz", "/v1/members"):
            head = client.head(url + path)
            got = client.get(url + path)
            assert head.status_code == got.status_code == 200, path
            assert head.content == b"" and got.content, path
            assert head.headers["content-length"] == got.headers["content-length"], path
        port = int(url.rsplit(":", 1)[1])
    log = (home.parent / f"serve-{port}.log").read_text()
    assert "unhandled error" not in log and "Traceback" not in log, log[-2000:]
