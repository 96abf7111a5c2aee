"""The `sealchain` command: init, keys, verify (offline), audit, demo; exit codes 0/1/2."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cli import app
from ledger.core.keys import parse_vkey
from ledger.core.policy import parse_log_policy, parse_members
from ledger.home import Home
from ledger.process import free_port
from ledger.service.proofs import receipt_for
from ledger.storage.engine import read_transaction
from tests.support.ledgers import LedgerFixture

runner = CliRunner()
SEALCHAIN = Path(sys.executable).with_name("sealchain")


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def test_init_demo_writes_keys_0600_policy_members_and_genesis(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result = invoke("init", "--demo", "--home", str(home))
    assert result.exit_code == 0, result.output
    keys = sorted((home / "keys").glob("*.pem"))
    assert len(keys) == 23
    for path in [*keys, home / "log.pem", *(home / "witnesses").glob("*.pem")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    policy = parse_log_policy((home / "policy.txt").read_text())
    assert [log.name for log in policy.logs] == ["sealchain.demo/log"]
    assert sorted(policy.witnesses) == ["bj-internet-court", "gacc-shanghai", "pboc"]
    assert policy.quorum == "none"
    members = parse_members((home / "members.txt").read_text())
    assert {k.org for k in members.keys} >= {"cac-registry", "au-meatworks", "pboc", "site-x"}
    genesis = json.loads((home / "genesis.json").read_text())
    assert genesis["type"] == "ledger.genesis" and genesis["org"] == "cac-registry"
    assert invoke("audit", "--home", str(home)).exit_code == 0


def test_init_refuses_an_existing_home(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    assert invoke("init", "--home", home).exit_code == 0
    result = invoke("init", "--home", home)
    assert result.exit_code == 2
    assert "already holds a ledger" in result.output


def test_keys_new_and_show(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert invoke("init", "--home", str(home), "--admin", "boss").exit_code == 0
    result = invoke("keys", "new", "newco", "--home", str(home))
    assert result.exit_code == 0, result.output
    pem = home / "keys" / "newco.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    vkey = result.output.strip().splitlines()[-1]
    assert parse_vkey(vkey).name == "sealchain.local/org/newco"  # the home's namespace
    assert invoke("keys", "new", "newco", "--home", str(home)).exit_code == 2  # no overwrite
    shown = invoke("keys", "show", "--home", str(home))
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("log sealchain.local/log+")
    assert "boss sealchain.local/org/boss+" in shown.output
    assert "newco (not a member key on this ledger" in shown.output


def test_keys_refuse_world_readable_private_key(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert invoke("init", "--home", str(home)).exit_code == 0
    os.chmod(home / "log.pem", 0o644)
    result = invoke("keys", "show", "--home", str(home))
    assert result.exit_code == 2 and "chmod 600" in result.output


def write_receipts(ledger: LedgerFixture, tmp_path: Path, data: bytes) -> tuple[Path, Path]:
    env = ledger.sign(
        "writer-a", "sample.note", {"text": "contract", "sha256": hashlib.sha256(data).hexdigest()}
    )
    ledger.accept(env)
    ledger.fill(10, 4)
    ledger.node.write_members_file()
    with read_transaction(ledger.node.engine) as conn:
        receipt = receipt_for(conn, env.tx_id)
    as_json = tmp_path / "receipt.json"
    as_json.write_text(json.dumps(receipt.to_json()))
    as_text = tmp_path / "receipt.tlog-proof"
    as_text.write_text(receipt.to_tlog_proof())
    return as_json, as_text


def test_verify_receipt_offline_and_reject_a_changed_byte(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    data = b"the signed contract"
    as_json, as_text = write_receipts(ledger, tmp_path, data)
    home = str(ledger.settings.home)
    for path in (as_json, as_text):
        result = invoke("verify", str(path), "--home", home)
        assert result.exit_code == 0, result.output
        assert "(4) witness cosignatures meet the quorum" in result.output
    (tmp_path / "data").write_bytes(data)
    ok = invoke("verify", str(as_json), "--home", home, "--file", str(tmp_path / "data"))
    assert ok.exit_code == 0 and "(5) data matches" in ok.output
    (tmp_path / "other").write_bytes(b"another contract")
    bad = invoke("verify", str(as_json), "--home", home, "--file", str(tmp_path / "other"))
    assert bad.exit_code == 1 and "FAIL (5)" in bad.output

    text = as_text.read_text()
    index_line = text.index("\nindex ")
    proof_char = index_line + len("\nindex 1\n") + 3  # inside the first proof hash
    flipped = text[:proof_char] + ("A" if text[proof_char] != "A" else "B") + text[proof_char + 1 :]
    as_text.write_text(flipped)
    result = invoke("verify", str(as_text), "--home", home)
    assert result.exit_code == 1, result.output
    assert "FAIL (2)" in result.output


def test_verify_with_explicit_policy_and_members(ledger: LedgerFixture, tmp_path: Path) -> None:
    as_json, _ = write_receipts(ledger, tmp_path, b"x")
    home = ledger.settings.home
    result = invoke(
        "verify",
        str(as_json),
        "--policy",
        str(home / "policy.txt"),
        "--members",
        str(home / "members.txt"),
        "--home",
        str(tmp_path / "nowhere"),
    )
    assert result.exit_code == 0, result.output
    missing = invoke("verify", str(as_json), "--home", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "cannot read" in missing.output


@pytest.mark.slow
def test_real_subprocess_verify_exit_codes(ledger: LedgerFixture, tmp_path: Path) -> None:
    as_json, _ = write_receipts(ledger, tmp_path, b"y")
    env = {**os.environ, "SEALCHAIN_HOME": str(ledger.settings.home)}
    ok = subprocess.run(
        [SEALCHAIN, "verify", str(as_json)], env=env, capture_output=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    receipt = json.loads(as_json.read_text())
    receipt["entry"]["body"]["text"] = "contracT"
    as_json.write_text(json.dumps(receipt))
    bad = subprocess.run(
        [SEALCHAIN, "verify", str(as_json)], env=env, capture_output=True, check=False
    )
    assert bad.returncode == 1
    assert b"FAIL (1)" in bad.stdout


def free_ports_in_a_row(count: int) -> int:
    """The first of `count` consecutive ports that are free now (the demo's witnesses)."""
    for _ in range(100):
        first = free_port()
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise AssertionError(f"no {count} free ports in a row")


@pytest.mark.slow
def test_demo_initialises_serves_and_reports(tmp_path: Path) -> None:
    home = str(tmp_path / "demo")
    port = str(free_port())
    witnesses = str(free_ports_in_a_row(3))
    out = str(tmp_path / "out")
    options = ("--home", home, "--check", "--port", port, "--witness-port", witnesses, "--out", out)
    first = invoke("demo", *options)
    assert first.exit_code == 0, first.output
    assert "Initialised the demo consortium" in first.output and "Audit: ok" in first.output
    assert "Projections: ok" in first.output, first.output
    assert "URLs: all" in first.output and "answer as expected" in first.output, first.output
    assert "Quorum (witnesses): met by" in first.output, first.output
    policy = Home(Path(home)).log_policy()
    assert policy.quorum == "witnesses" and policy.groups["witnesses"].threshold == 2
    again = invoke("demo", *options)
    assert again.exit_code == 0 and "already initialised" in again.output


@pytest.mark.slow
def test_sigterm_stops_the_demo_and_the_server_it_started(tmp_path: Path) -> None:
    import signal
    import time

    import httpx

    port, witnesses = free_port(), free_ports_in_a_row(3)
    args = [SEALCHAIN, "demo", "--home", str(tmp_path / "demo"), "--port", str(port),
            "--witness-port", str(witnesses), "--out", str(tmp_path / "out")]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SEALCHAIN_EXTRA_APPS"}
    demo = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:  # the scenarios run first; then it serves until stopped
        seen.append(line)
        if "press Ctrl-C to stop" in line:
            break
    assert any("press Ctrl-C" in s for s in seen), "".join(seen)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    demo.send_signal(signal.SIGTERM)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0 and "stopped" in rest, "".join(seen) + rest
    for child in (port, witnesses, witnesses + 1, witnesses + 2):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the server and the witnesses stop with it
            try:
                httpx.get(f"http://127.0.0.1:{child}/", timeout=1)
            except httpx.TransportError:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the demo's child on port {child} still answers after SIGTERM")


def test_audit_without_a_home_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("audit", "--home", str(tmp_path / "missing"))
    assert result.exit_code == 2


def test_audit_refuses_a_members_file_that_hides_a_revocation(ledger: LedgerFixture) -> None:
    key_id = ledger.signers["writer-a"].key_id_hex
    ledger.accept(ledger.sign("admin", "ledger.key.revoke", {"org": "writer-a", "key": key_id}))
    home, members = ledger.settings.home, ledger.settings.home / "members.txt"
    env = {"SEALCHAIN_DATABASE_URL": ledger.settings.database_url or ""}
    env = {k: v for k, v in env.items() if v}
    assert invoke("audit", "--home", str(home), env=env).exit_code == 0
    lines = members.read_text().splitlines()
    edited = [ln.rsplit(" ", 1)[0] if ln.startswith("writer-a ") else ln for ln in lines]
    assert edited != lines  # the revocation index was there and is now gone
    members.write_text("\n".join(edited) + "\n")
    result = invoke("audit", "--home", str(home), env=env)
    assert result.exit_code == 1, result.output
    assert "at members.txt" in result.output
    assert invoke("reindex", "--home", str(home), env=env).exit_code == 0
    assert invoke("audit", "--home", str(home), env=env).exit_code == 0


# --- bad surroundings: one line and exit 2, never a traceback ---------------------------------


@pytest.fixture(scope="module")
def made_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-bad") / "home"
    done = subprocess.run([SEALCHAIN, "init", "--home", str(home)], capture_output=True)
    assert done.returncode == 0, done.stderr
    return home


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    plain = {**os.environ, "COLUMNS": "200", **(env or {})}
    plain.pop("SEALCHAIN_EXTRA_APPS", None)
    # A timeout, so that a command that wrongly starts serving fails the test instead of hanging
    return subprocess.run(
        [SEALCHAIN, *args], capture_output=True, text=True, env=plain, timeout=120
    )


def assert_refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert words in " ".join(done.stderr.split()), done.stderr


def test_a_home_without_its_database_is_refused_not_recreated(
    made_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(made_home, home, ignore=shutil.ignore_patterns("ledger.db*"))
    members = (home / "members.txt").read_text()
    for command in ("reindex", "audit"):
        assert_refused(run_cli(command, "--home", str(home)), "ledger.db is missing")
    assert not (home / "ledger.db").exists()
    assert (home / "members.txt").read_text() == members


def test_a_database_that_is_not_sqlite_is_an_error(made_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(made_home, home, ignore=shutil.ignore_patterns("ledger.db*"))
    (home / "ledger.db").write_bytes(b"not a database at all" * 100)
    assert_refused(run_cli("audit", "--home", str(home)), "DatabaseError")


def test_a_garbled_url_is_an_error(made_home: Path) -> None:
    done = run_cli("checkpoint", "--url", "http://[::1", "--home", str(made_home))
    assert_refused(done, "error:")


def test_key_for_an_org_id_that_is_a_path_is_refused(made_home: Path, tmp_path: Path) -> None:
    for org in ("../../escaped", "", "a/b", "[/bold]"):
        assert_refused(run_cli("keys", "new", org, "--home", str(made_home)), "org id")
    assert not list(made_home.parent.glob("*.pem"))
    done = run_cli("init", "--home", str(tmp_path / "h"), "--admin", "../evil")
    assert_refused(done, "admin org id")
    assert not (tmp_path / "evil.pem").exists() and not (tmp_path / "h").exists()


def test_submit_checks_where_the_receipt_goes_before_submitting(
    made_home: Path, tmp_path: Path
) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("x")
    body = tmp_path / "body.json"
    body.write_text('{"text": "x"}')
    done = run_cli(
        "submit", "--as", "admin", "--type", "ledger.member.update", "--body", str(body),
        "--out", str(occupied), "--url", "http://127.0.0.1:9", "--home", str(made_home),
    )  # fmt: skip
    assert_refused(done, "cannot use")


def test_serve_refuses_a_port_out_of_range(made_home: Path) -> None:
    done = run_cli("serve", "--home", str(made_home), "--port", "70000")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
