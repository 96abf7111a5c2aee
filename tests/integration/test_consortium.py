"""The consortium for real: the log and three `sealchain witness` processes on loopback, the
demo policy asking 2 of 3 cosignatures (DESIGN 10, issue #8).

Each witness replays the log into its own replica and cosigns only what it agrees with. The
tests stop and start witnesses, rewrite the log's history as an operator holding the log key
could, and tamper with a witness's own replica, and check what each party then says."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from apps.evidence import builders
from apps.evidence.demo import AUTHOR
from ledger.client import LedgerClient
from ledger.config import Settings
from ledger.core.envelope import envelope_from_dict, sign_envelope
from ledger.core.note import parse_note
from ledger.core.receipt import (
    FINAL_HEADER,
    receipt_from_json,
    verify_receipt,
    witness_cosigners,
)
from ledger.errors import LedgerError, ProofError, ReceiptInvalid
from ledger.home import Home
from ledger.process import background_server, free_port, serve_command, witness_command
from ledger.service.consortium import demo_witness_plan
from ledger.service.node import init_home, open_node
from ledger.service.rewrite import rewrite_entry
from tests.support.server import SEALCHAIN

pytestmark = pytest.mark.slow
WITNESSES = ("gacc-shanghai", "bj-internet-court", "pboc")


@dataclass
class Consortium:
    home: Path
    logs: Path
    port: int = field(default_factory=free_port)
    ports: dict[str, int] = field(default_factory=lambda: {w: free_port() for w in WITNESSES})
    stacks: dict[str, ExitStack] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def witness_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start_witness(self, name: str) -> None:
        stack = ExitStack()
        command = witness_command(
            self.home, name, self.ports[name], self.url, "--follow-seconds", "0.2"
        )
        stack.enter_context(
            background_server(
                command, self.ports[name], log=self.logs / f"{name}.log", ready_path="/"
            )
        )
        self.stacks[name] = stack

    def stop(self, name: str) -> None:
        self.stacks.pop(name).close()

    def start_log(self) -> None:
        urls = ",".join(f"{w}={self.witness_url(w)}" for w in WITNESSES)
        stack = ExitStack()
        stack.enter_context(
            background_server(
                serve_command(self.home, self.port),
                self.port,
                env={"SEALCHAIN_WITNESS_URLS": urls},
                log=self.logs / "log.log",
            )
        )
        self.stacks["log"] = stack

    def client(self, final_wait: float = 30.0) -> LedgerClient:
        home = Home(self.home)
        return LedgerClient(
            self.url,
            AUTHOR,
            home.member_signer(AUTHOR),
            home.trust_policy(),
            final_wait=final_wait,
        )

    def close(self) -> None:
        for name in list(self.stacks):
            self.stop(name)


@pytest.fixture
def consortium(tmp_path: Path) -> Iterator[Consortium]:
    home = tmp_path / "home"
    node, _ = init_home(Settings(home=home), demo_witness_plan())
    node.close()
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Consortium(home, logs)
    try:
        for name in WITNESSES:
            running.start_witness(name)
        running.start_log()
        yield running
    finally:
        running.close()


def deposit_parts(text: str) -> tuple[str, dict[str, object]]:
    return builders.deposit(text.encode(), title=text, media_type="text/plain", operator=AUTHOR)


def deposit(client: LedgerClient, text: str) -> tuple[str, dict[str, object]]:
    return deposit_parts(text)


def until(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s: {check}")
        time.sleep(0.1)


def cosigners_of(note: str, home: Path) -> list[str]:
    return witness_cosigners(parse_note(note), Home(home).log_policy())


def test_quorum_survives_one_witness_down_not_two_and_catches_up(
    consortium: Consortium, tmp_path: Path
) -> None:
    home = consortium.home
    policy = Home(home).trust_policy()
    with consortium.client() as client:
        receipt = client.submit(*deposit(client, "all three running"))
        # Final: at least two of the three cosigned the checkpoint it proves against.
        assert len(verify_receipt(receipt, policy).witnesses) >= 2

        consortium.stop("pboc")
        receipt = client.submit(*deposit(client, "one witness down"))
        names = verify_receipt(receipt, policy).witnesses
        assert set(names) == {"gacc-shanghai", "bj-internet-court"}

    consortium.stop("bj-internet-court")
    with consortium.client(final_wait=2) as client:
        kind, body = deposit(client, "two witnesses down")
        envelope = client.sign(kind, body)
        with pytest.raises(ReceiptInvalid) as refused:
            client.submit_envelope(envelope)
        assert refused.value.step == 4 and "not final" in refused.value.detail
    answer = httpx.get(f"{consortium.url}/v1/receipts/{envelope.tx_id}")
    assert answer.status_code == 200 and answer.headers[FINAL_HEADER] == "false"
    not_final = tmp_path / "not-final.json"
    not_final.write_text(answer.text)
    verify = subprocess.run(
        [SEALCHAIN, "verify", str(not_final), "--home", str(home)], capture_output=True, text=True
    )
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "FAIL (4)" in verify.stdout

    consortium.start_witness("bj-internet-court")
    consortium.start_witness("pboc")

    def final() -> bool:
        got = httpx.get(f"{consortium.url}/v1/receipts/{envelope.tx_id}")
        return got.headers[FINAL_HEADER] == "true"

    until(final)
    final_path = tmp_path / "final.json"
    final_path.write_text(httpx.get(f"{consortium.url}/v1/receipts/{envelope.tx_id}").text)
    verify = subprocess.run(
        [SEALCHAIN, "verify", str(final_path), "--home", str(home)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Both restarted witnesses caught up: all three cosign the next checkpoint.
    with consortium.client() as client:
        client.submit(*deposit(client, "everyone back"))

        def all_three() -> bool:
            return len(cosigners_of(client.get_checkpoint()[1], home)) == 3

        until(all_three)


def test_a_rewritten_history_is_refused_by_every_witness_and_seen_by_a_client(
    consortium: Consortium, tmp_path: Path
) -> None:
    home = consortium.home
    with consortium.client() as client:
        for n in range(4):
            client.submit(*deposit(client, f"before the rewrite {n}"))
        kept = client.get_checkpoint()[1]
        assert len(cosigners_of(kept, home)) >= 2
    (tmp_path / "kept.txt").write_text(kept)

    consortium.stop("log")
    node = open_node(Settings(home=home))
    assert node.sequencer is not None

    def forge(data: bytes) -> bytes:
        entry = json.loads(data)
        entry["body"]["title"] = "rewritten"
        return json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()

    assert rewrite_entry(node.engine, node.sequencer.log_signer, 2, forge) > 0
    node.close()
    consortium.start_log()

    with consortium.client(final_wait=3) as client:
        with pytest.raises(ReceiptInvalid) as refused:
            client.submit(*deposit(client, "after the rewrite"))
        assert refused.value.step == 4
        with pytest.raises(ProofError, match="FORK"):
            client.check_extends(kept)
    cli = subprocess.run(
        [
            SEALCHAIN,
            "checkpoint",
            "--url",
            consortium.url,
            "--home",
            str(home),
            "--since",
            str(tmp_path / "kept.txt"),
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and "FORK" in cli.stderr, cli.stdout + cli.stderr

    # Every witness refused, and said why, in the log's own log.
    def all_refused() -> bool:
        text = (consortium.logs / "log.log").read_text()
        return all(f"witness {w}: refused" in text for w in WITNESSES)

    until(all_refused)
    log_text = (consortium.logs / "log.log").read_text()
    assert "consistency proof from the cosigned size" in log_text
    latest = httpx.get(f"{consortium.url}/checkpoint").text
    assert cosigners_of(latest, home) == []


def test_a_witness_with_a_tampered_replica_refuses_and_names_its_row(
    consortium: Consortium,
) -> None:
    with consortium.client() as client:
        for n in range(3):
            client.submit(*deposit(client, f"replicated {n}"))
    consortium.stop("pboc")
    replica = consortium.home / "witness" / "pboc" / "replica.db"
    with sqlite3.connect(replica) as db:
        (data,) = db.execute("SELECT data FROM entries WHERE idx = 2").fetchone()
        changed = bytearray(data)
        changed[changed.find(b'"title"') + 9] ^= 0x01
        db.execute("UPDATE entries SET data = ? WHERE idx = 2", (bytes(changed),))
    consortium.start_witness("pboc")
    about = httpx.get(consortium.witness_url("pboc")).text
    assert "fault" in about and "entry 2" in about, about
    with consortium.client() as client:
        client.submit(*deposit(client, "the others still make it final"))

    def refused() -> bool:
        return "witness pboc: refused" in (consortium.logs / "log.log").read_text()

    until(refused)
    text = (consortium.logs / "log.log").read_text()
    line = next(x for x in text.splitlines() if "witness pboc: refused" in x)
    assert "own replica fails its audit" in line and "entry 2" in line


def test_tiles_are_the_same_bytes_on_the_log_and_on_a_peer(consortium: Consortium) -> None:
    with consortium.client() as client:
        for n in range(5):
            client.submit(*deposit(client, f"tile {n}"))
        size = client.get_checkpoint()[0].size
    peer = consortium.witness_url("gacc-shanghai")

    def caught_up() -> bool:
        return f"replica {size}\n" in httpx.get(peer).text

    until(caught_up)
    for path in (f"tile/0/000.p/{size}", f"tile/entries/000.p/{size}"):
        on_log = httpx.get(f"{consortium.url}/{path}")
        on_peer = httpx.get(f"{peer}/{path}")
        assert on_log.status_code == on_peer.status_code == 200, path
        assert on_log.content == on_peer.content, path
    # The peer's own checkpoint is the log's, signed by the log key; it serves proofs too.
    peer_note = httpx.get(f"{peer}/checkpoint").text
    assert parse_note(peer_note).text.splitlines()[1] == str(size)
    proof = httpx.get(f"{peer}/v1/proofs/inclusion", params={"index": 1, "size": size})
    assert proof.status_code == 200 and proof.json()["proof"]


def test_scenario_tamper_shows_the_witnesses_refuse_a_rewritten_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    node, signers = init_home(Settings(home=home), demo_witness_plan())
    assert node.sequencer is not None
    raws = []
    for n in range(8):
        kind, body = deposit_parts(f"entry {n}")
        raws.append(sign_envelope(signers[AUTHOR], type=kind, org=AUTHOR, body=body).raw)
    assert all(not isinstance(o, LedgerError) for o in node.sequencer.submit(raws))
    node.close()
    done = subprocess.run(
        [SEALCHAIN, "scenario", "tamper", "--home", str(home), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "SEALCHAIN_EXTRA_APPS"},
    )
    told = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    reason = "refused size 10 (422): the consistency proof from the cosigned size 9 does not hold"
    for name in WITNESSES:
        assert f"witness {name} refuses: {reason}" in told, told
    assert "the client with the kept checkpoint: FORK" in told
    assert "audit of the rewritten copy: entry 4" in told


def test_a_peer_serves_the_apps_pages_proving_against_final_checkpoints(
    consortium: Consortium,
) -> None:
    from apps.evidence.numbers import deposit_number

    with consortium.client() as client:
        receipt = client.submit(*deposit(client, "a page a peer serves"))
    peer = consortium.witness_url("bj-internet-court")
    policy = Home(consortium.home).log_policy()

    def final_on_peer() -> bool:
        note = httpx.get(f"{peer}/checkpoint").text
        size = int(parse_note(note).text.splitlines()[1])
        return size > receipt.index and policy.quorum_met(set(cosigners_of(note, consortium.home)))

    until(final_on_peer)  # the peer copied the log's cosignatures as it followed
    page = httpx.get(f"{peer}/evidence/{deposit_number(receipt.index)}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    on_log = httpx.get(f"{consortium.url}/evidence/{deposit_number(receipt.index)}")
    assert on_log.status_code == 200
    tx_id = envelope_from_dict(receipt.entry).tx_id
    answer = httpx.get(f"{peer}/v1/receipts/{tx_id}")
    assert answer.status_code == 200 and answer.headers[FINAL_HEADER] == "true"
    from_peer = receipt_from_json(answer.json())
    assert len(verify_receipt(from_peer, Home(consortium.home).trust_policy()).witnesses) >= 2
