"""`sealchain scenario tamper`, second part: what an operator holding the log key achieves by
rewriting history and re-signing it, when the consortium's witnesses are running (nothing).

On a copy of the home (so the demo's own ledger is left alone) it starts the log and the
policy's witnesses, each with a fresh replica, and waits until they cosign the latest
checkpoint, which a client keeps. Then it stops the log and rewrites one entry as only the
key's holder could: tree recomputed, every later checkpoint re-signed (ledger.service.rewrite).
Started again, the log sends its re-signed checkpoint to every witness, and each refuses,
saying why; the client holding the older checkpoint asks for a consistency proof and finds
the fork; and the audit names the entry, whose signature the operator could not forge.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ledger.client import LedgerClient
from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.core.note import parse_note
from ledger.core.receipt import witness_cosigners
from ledger.errors import ConfigError, LedgerError, ProofError
from ledger.home import Home
from ledger.process import consortium, free_port
from ledger.service.audit import audit
from ledger.service.cosigning import CheckpointPusher
from ledger.service.node import open_node
from ledger.service.rewrite import rewrite_entry

COSIGN_WAIT = 120.0  # seconds for fresh replicas to replay the demo's log and cosign


def run(*, home: Path, out: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    policy = Home(home).log_policy()
    if not policy.witnesses:
        console.print("The trust policy names no witness: the fork part is left out.")
        return {"skipped": True}
    if Settings(home=home).database_url:
        raise ConfigError("the tamper story copies a SQLite home; unset SEALCHAIN_DATABASE_URL")
    copy = out / "rewritten-home"
    if copy.exists():
        shutil.rmtree(copy)
    # The copy starts without the demo's witness replicas: fresh ones replay it all.
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("witness"))
    port, ports = free_port(), {name: free_port() for name in policy.witnesses}

    with consortium(copy, port, ports, logs=out) as (url, _):
        kept, size = _wait_for_quorum(url, copy)
    (out / "kept-checkpoint.txt").write_text(kept)
    names = ", ".join(witness_cosigners(parse_note(kept), policy))
    console.print(
        f"Witnesses replayed the copy's {size} entries and cosigned its checkpoint ({names}); "
        f"a client keeps it ({out / 'kept-checkpoint.txt'})."
    )

    victim = size // 2
    node = open_node(Settings(home=copy))
    assert node.sequencer is not None
    resigned = rewrite_entry(node.engine, node.sequencer.log_signer, victim, _changed)
    # And the log goes on from its rewritten history: one more entry, one more checkpoint.
    genesis = json.loads(node.home.genesis_path.read_text())
    admin = genesis["body"]["admins"][0]
    update = sign_envelope(
        node.home.member_signer(admin),
        type="ledger.member.update",
        org=admin,
        body={"org": admin, "name": "Consortium registry (after the rewrite)"},
    )
    (outcome,) = node.sequencer.submit([update.raw])
    node.close()
    if isinstance(outcome, LedgerError):
        raise outcome
    console.print(
        f"The operator changed entry {victim}, recomputed the tree, re-signed {resigned} "
        f"checkpoints with the log key, and the log went on (entry {outcome.index})."
    )

    refusals: dict[str, str | None] = {}
    quiet = {"SEALCHAIN_PUSH_CHECKPOINTS": "false"}  # this story sends the checkpoint itself
    with consortium(copy, port, ports, logs=out, env=quiet) as (url, peers):
        node = open_node(Settings(home=copy), writable=False)
        pusher = CheckpointPusher(node.engine, policy, peers)
        for name in peers:
            pusher.status[name].cosigned = size  # what each witness cosigned before
            cosigned = pusher.push(name)
            refusals[name] = None if cosigned else pusher.status[name].error
            verdict = "COSIGNED" if cosigned else f"refuses: {pusher.status[name].error}"
            console.print(f"  witness {name} {escape(verdict)}")
        node.close()
        with LedgerClient(url, policy=Home(copy).trust_policy()) as client:
            try:
                client.check_extends(kept)
                client_saw = None
            except ProofError as e:
                client_saw = e.detail
    console.print(f"  the client with the kept checkpoint: {escape(client_saw or 'saw nothing')}")

    node = open_node(Settings(home=copy), writable=False)
    result = audit(node.engine, node.registry, log_keys=node.log_policy.logs)
    node.close()
    console.print(f"  audit of the rewritten copy: {'ok' if result.ok else result.first_bad}")
    return {
        "entry": victim,
        "resigned": resigned,
        "refusals": refusals,
        "client": client_saw,
        "audit": {"ok": result.ok, "where": result.where, "detail": result.first_bad},
    }


def _wait_for_quorum(url: str, home: Path) -> tuple[str, int]:
    policy = Home(home).trust_policy()
    with LedgerClient(url, policy=policy) as client:
        checkpoint, note, names = client.wait_for_final_checkpoint(COSIGN_WAIT, pause=0.2)
    if not names or not policy.log.quorum_met(set(names)):
        raise ConfigError(
            f"the witnesses did not cosign within {COSIGN_WAIT:.0f} s (logs in {home.parent})"
        )
    return note, checkpoint.size


def _changed(data: bytes) -> bytes:
    """One byte of the entry's body changed, as in the first part of the story."""
    changed = bytearray(data)
    changed[changed.find(b'"body"') + 10] ^= 0x01
    return bytes(changed)
