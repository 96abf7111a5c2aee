"""One exit-code rule for every `sealchain` command (docs/cli.md): 0 ok; 1 only when something
was verified and failed; 2 for every usage, input or set-up error, said in one line.

Each test runs the installed `sealchain` in a subprocess, as a user or a script would, so the
exit code is the one `main()` produces."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ledger.core.keys import Signer
from ledger.core.note import Checkpoint, sign_note

SEALCHAIN = Path(sys.executable).with_name("sealchain")
NOT_JSON, ARRAY, GOOD = b"{bad json", b'[{"text": "x"}]', b'{"text": "x"}'


@pytest.fixture(scope="module")
def made_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("exit-codes") / "home"
    done = run_cli("init", "--home", str(home))
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture
def home(made_home: Path, tmp_path: Path) -> Path:
    """A copy of the made home that a test may spoil."""
    copy = tmp_path / "home"
    shutil.copytree(made_home, copy)
    return copy


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    plain = {**os.environ, "COLUMNS": "250", **(env or {})}
    plain.pop("SEALCHAIN_EXTRA_APPS", None)
    # A timeout, so that a command that wrongly starts serving fails the test instead of hanging
    return subprocess.run(
        [SEALCHAIN, *args], capture_output=True, text=True, env=plain, timeout=timeout
    )


def assert_exit(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit `code`, and the reason as one line on stderr naming each of `words`."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], done.stderr


# --- a server that is not a Sealchain ledger, or one that refuses ------------------------------


class _Canned(BaseHTTPRequestHandler):
    answer: tuple[int, str, bytes] = (404, "text/html", b"<html>no</html>")

    def _reply(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        status, kind, body = self.answer
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[tuple[str, type[_Canned]]]:
    """A local HTTP server answering every request with `handler.answer`."""
    handler = type("Handler", (_Canned,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


PROBLEM_403 = json.dumps(
    {"type": "https://sealchain.dev/problems/unknown-org", "title": "Unknown", "status": 403,
     "detail": "org 'admin' is not a member", "code": "unknown-org"}
).encode()  # fmt: skip


def submit(home: Path, body: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "submit", "--as", "admin", "--type", "ledger.member.update", "--body", str(body),
        "--url", url, "--home", str(home), "--out", str(body.parent / "receipts"), *extra,
    )  # fmt: skip


def test_submit_refused_by_the_server_is_a_usage_error_not_a_failed_verification(
    made_home: Path, tmp_path: Path, canned: tuple[str, type[_Canned]]
) -> None:
    # Another ledger's server (a wrong --url) refuses our org: nothing was verified.
    url, handler = canned
    handler.answer = (403, "application/problem+json", PROBLEM_403)
    body = tmp_path / "body.json"
    body.write_bytes(GOOD)
    assert_exit(submit(made_home, body, url), 2, "unknown-org")


@pytest.mark.parametrize(
    "answer",
    [
        (200, "application/json", b'{"hello": "world"}'),
        (404, "text/html", b"<html>\n<body>\nNot Found\n</body>\n</html>\n"),
    ],
    ids=["json-not-a-receipt", "html-404"],
)
def test_submit_to_a_url_that_is_not_a_ledger_is_a_usage_error(
    made_home: Path, tmp_path: Path, canned: tuple[str, type[_Canned]], answer: tuple
) -> None:
    url, handler = canned
    handler.answer = answer
    body = tmp_path / "body.json"
    body.write_bytes(GOOD)
    assert_exit(submit(made_home, body, url), 2, url, "not a Sealchain ledger's answer")
    assert not (tmp_path / "receipts").exists() or not list((tmp_path / "receipts").iterdir())


@pytest.mark.parametrize(
    "answer",
    [
        (200, "text/html", b"<html>a web page</html>"),
        (502, "text/plain", b"Bad Gateway\nfrom the proxy\n"),
    ],
    ids=["html-page", "proxy-502"],
)
def test_checkpoint_from_a_url_that_is_not_a_ledger_is_a_usage_error(
    made_home: Path, canned: tuple[str, type[_Canned]], answer: tuple
) -> None:
    url, handler = canned
    handler.answer = answer
    done = run_cli("checkpoint", "--url", url, "--home", str(made_home))
    assert_exit(done, 2, url, "not a Sealchain ledger's answer")


def test_submit_whose_receipt_does_not_verify_exits_1(
    made_home: Path, tmp_path: Path, canned: tuple[str, type[_Canned]]
) -> None:
    # A receipt-shaped answer for another entry: the server's answer was checked, and failed.
    url, handler = canned
    wrong = {"entry": {"v": 1, "org": "admin"}, "index": 0, "proof": [], "checkpoint": "x\n"}
    handler.answer = (201, "application/json", json.dumps(wrong).encode())
    body = tmp_path / "body.json"
    body.write_bytes(GOOD)
    done = submit(made_home, body, url)
    assert_exit(done, 1, "does not verify")
    assert "FAIL (1)" in done.stdout
    assert not list((tmp_path / "receipts").iterdir())


def test_checkpoint_signed_by_a_key_the_policy_lacks_exits_1(
    made_home: Path, canned: tuple[str, type[_Canned]]
) -> None:
    impostor = Signer.generate("sealchain.local/log")  # the home's log name, not its key
    text = str(sign_note(Checkpoint("sealchain.local/log", 1, bytes(32)).text(), [impostor]))
    url, handler = canned
    handler.answer = (200, "text/plain", text.encode())
    done = run_cli("checkpoint", "--url", url, "--home", str(made_home))
    assert_exit(done, 1, "not signed by a key of log sealchain.local/log")


def test_a_wrong_url_with_nothing_listening_is_2_for_submit_as_for_checkpoint(
    made_home: Path, tmp_path: Path
) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    body = tmp_path / "body.json"
    body.write_bytes(GOOD)
    assert_exit(submit(made_home, body, url), 2, url, "no answer")
    assert_exit(run_cli("checkpoint", "--url", url, "--home", str(made_home)), 2, url)


@pytest.mark.parametrize(("name", "content"), [("bad.json", NOT_JSON), ("array.json", ARRAY)])
def test_submit_body_that_is_not_a_json_object_is_a_usage_error(
    made_home: Path, tmp_path: Path, name: str, content: bytes
) -> None:
    body = tmp_path / name
    body.write_bytes(content)
    assert_exit(submit(made_home, body, "http://127.0.0.1:9"), 2, name)


def test_submit_with_a_malformed_record_type_is_a_usage_error(
    made_home: Path, tmp_path: Path
) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(GOOD)
    done = run_cli(
        "submit", "--as", "admin", "--type", "NotAType", "--body", str(body),
        "--url", "http://127.0.0.1:9", "--home", str(made_home), "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert_exit(done, 2, "invalid-envelope")


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("org", ["nosuch", "UNKNOWN"])
def test_keys_show_for_an_org_without_a_key_is_refused(made_home: Path, org: str) -> None:
    assert_exit(run_cli("keys", "show", org, "--home", str(made_home)), 2, repr(org))


# --- policy.txt and members.txt that are not UTF-8 ---------------------------------------------


def spoil(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"# caf\xe9 in Latin-1\n")


@pytest.mark.parametrize("command", ["verify", "audit", "serve"])
def test_a_policy_file_that_is_not_utf8_is_named(home: Path, tmp_path: Path, command: str) -> None:
    spoil(home / "policy.txt")
    receipt = tmp_path / "receipt.json"
    receipt.write_text("{}")
    args = {
        "verify": ["verify", str(receipt)],
        "audit": ["audit"],
        "serve": ["serve", "--port", "1"],  # refused before it would listen
    }[command]
    done = run_cli(*args, "--home", str(home), timeout=60)
    assert_exit(done, 2, str(home / "policy.txt"), "not UTF-8")


def test_verify_names_a_members_file_that_is_not_utf8(home: Path, tmp_path: Path) -> None:
    spoil(home / "members.txt")
    receipt = tmp_path / "receipt.json"
    receipt.write_text("{}")
    done = run_cli("verify", str(receipt), "--home", str(home))
    assert_exit(done, 2, str(home / "members.txt"), "not UTF-8")


def test_audit_fails_a_members_file_that_is_not_utf8_naming_it(home: Path) -> None:
    # The audit checks members.txt against the ledger: unreadable, it says nothing the ledger
    # says, so the audit fails (1) at members.txt.
    spoil(home / "members.txt")
    done = run_cli("audit", "--home", str(home))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "audit FAILED at members.txt" in done.stdout
    assert f"{home / 'members.txt'} is not UTF-8" in " ".join(done.stdout.split())


# --- serve: a port or host it cannot listen on -------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_busy_port_is_one_line_and_exit_2(
    made_home: Path, busy_port: int, workers: str
) -> None:
    done = run_cli(
        "serve", "--home", str(made_home), "--port", str(busy_port), "--workers", workers,
        timeout=60,
    )  # fmt: skip
    assert_exit(done, 2, f"127.0.0.1:{busy_port}", "in use")


@pytest.mark.parametrize(
    ("host", "workers"), [("256.1.1.1", "1"), ("nosuchhost.invalid", "1"), ("256.1.1.1", "2")]
)
def test_serve_on_a_host_it_cannot_listen_on_is_one_line_and_exit_2(
    made_home: Path, host: str, workers: str
) -> None:
    done = run_cli(
        "serve", "--home", str(made_home), "--host", host, "--port", "8000", "--workers", workers,
        timeout=60,
    )  # fmt: skip
    assert_exit(done, 2, f"cannot listen on {host}:8000")


# --- SEALCHAIN_DATABASE_URL --------------------------------------------------------------------

REFUSED = "postgresql+psycopg://nobody:secret@127.0.0.1:1/x"  # nothing listens on port 1


@pytest.mark.parametrize(
    ("command", "url", "cause"),
    [
        ("audit", "garbage://", "not 'garbage'"),
        ("init", "mysql://u:secret@h/db", "not 'mysql'"),
        ("reindex", "not a url", "not a database URL"),
        ("serve", REFUSED, "Connection refused"),
        ("audit", REFUSED, "Connection refused"),
        ("reindex", REFUSED, "Connection refused"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_the_setting(
    made_home: Path, tmp_path: Path, command: str, url: str, cause: str
) -> None:
    where = str(tmp_path / "new") if command == "init" else str(made_home)
    done = run_cli(command, "--home", where, env={"SEALCHAIN_DATABASE_URL": url}, timeout=60)
    assert_exit(done, 2, "SEALCHAIN_DATABASE_URL", cause)
    assert "secret" not in done.stderr  # the password is never printed


def test_init_with_an_unreachable_database_leaves_no_half_made_home(tmp_path: Path) -> None:
    new = tmp_path / "new"
    env = {"SEALCHAIN_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"}
    assert_exit(run_cli("init", "--home", str(new), env=env), 2, "SEALCHAIN_DATABASE_URL")
    assert not new.exists()


def test_a_bad_setting_is_one_line_naming_it(made_home: Path) -> None:
    env = {"SEALCHAIN_METRICS_ALLOW": "10.0.0.1/8"}
    done = run_cli("serve", "--home", str(made_home), "--port", "1", env=env, timeout=30)
    assert_exit(done, 2, "SEALCHAIN_METRICS_ALLOW", "'10.0.0.1/8'")


# --- scenario tamper ---------------------------------------------------------------------------


def test_scenario_tamper_exits_1_when_the_untouched_ledger_fails_its_audit(
    home: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(home / "ledger.db") as db:
        (data,) = db.execute("SELECT data FROM entries WHERE idx = 0").fetchone()
        changed = bytearray(data)
        changed[changed.find(b'"body"') + 12] ^= 0x01
        db.execute("UPDATE entries SET data = ? WHERE idx = 0", (bytes(changed),))
    done = run_cli("scenario", "tamper", "--home", str(home), "--out", str(tmp_path / "out"))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "audit of the original: FAILED" in " ".join(done.stdout.split())
