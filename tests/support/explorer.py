"""A ledger for the explorer's tests: the demo consortium (filing numbers, three witnesses with
their keys in the home) with a quorum of 2 of 3, a sample-app writer, blocks of notes, and
cosignature rows made with the witnesses' real keys."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.core.keys import SIG_COSIGNATURE_V1, Signer
from ledger.core.note import cosign, parse_note
from ledger.home import Home
from ledger.service.consortium import ConsortiumPlan, OrgPlan, demo_plan
from ledger.service.node import LedgerNode, init_home
from ledger.service.sequencer import Accepted
from ledger.storage.engine import write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import blocks
from tests.support.sample_app import SAMPLE_APP

WITNESSES = ("gacc-shanghai", "bj-internet-court", "pboc")
WRITER = "sample-writer"
WRITER_FILING = "京网信备11010819129999号"
COSIGNED_AT = 1_800_000_000


def explorer_plan() -> ConsortiumPlan:
    """The demo consortium, its witnesses' quorum 2 of 3 (no witness URLs: no process sends
    them checkpoints, the tests write the cosignatures), and one writer of sample notes."""
    plan = demo_plan()
    plan.orgs = [*plan.orgs, OrgPlan(WRITER, "Sample writer", ("sample.writer",), WRITER_FILING)]
    plan.quorum = 2
    return plan


@dataclass
class ExplorerLedger:
    node: LedgerNode
    home: Path
    plan: ConsortiumPlan
    writer: Signer
    sizes: list[int] = field(default_factory=list)  # checkpoint size of each block, by height
    tx_ids: list[str] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        return self.node.engine

    def add_blocks(self, count: int, per_block: int = 2) -> None:
        assert self.node.sequencer is not None
        for _ in range(count):
            raws = []
            for _ in range(per_block):
                n = len(self.tx_ids)
                env = sign_envelope(
                    self.writer, type="sample.note", org=WRITER, body={"text": f"note {n}"}
                )
                raws.append(env.raw)
                self.tx_ids.append(env.tx_id)
            outcomes = self.node.sequencer.submit(raws)
            assert all(isinstance(o, Accepted) for o in outcomes), outcomes
        with self.engine.connect() as conn:
            query = select(blocks.c.size).order_by(blocks.c.height)
            self.sizes = [int(size) for size in conn.execute(query).scalars()]

    def witness(self, name: str) -> Signer:
        return Home(self.home).witness_signer(name, self.plan.witness_key_name(name))

    def cosign(self, size: int, *names: str, line_for: dict[str, str] | None = None) -> None:
        """Store cosignatures of the checkpoint at `size` by the witnesses `names`, made with
        their keys; `line_for` gives a line to store instead of a witness's real one."""
        with write_transaction(self.engine) as conn:
            repo = Repository(conn)
            found = repo.checkpoint(size)
            assert found is not None, f"no checkpoint of size {size}"
            text = parse_note(found[1]).text
            for name in names:
                line = cosign(text, self.witness(name), COSIGNED_AT + size).line()
                repo.add_cosignature(size, name, (line_for or {}).get(name, line))

    def cosign_as_stranger(self, size: int) -> str:
        """A valid cosignature by a witness key the trust policy does not list."""
        stranger = Signer.generate("sealchain.demo/witness/stranger", SIG_COSIGNATURE_V1)
        with write_transaction(self.engine) as conn:
            repo = Repository(conn)
            found = repo.checkpoint(size)
            assert found is not None
            line = cosign(parse_note(found[1]).text, stranger, COSIGNED_AT).line()
            repo.add_cosignature(size, "stranger", line)
        return line

    def close(self) -> None:
        self.node.close()


def explorer_ledger(home: Path, database_url: str | None = None) -> ExplorerLedger:
    if home.exists():
        shutil.rmtree(home)
    plan = explorer_plan()
    node, signers = init_home(
        Settings(home=home, database_url=database_url), plan, extra_apps=[SAMPLE_APP]
    )
    return ExplorerLedger(node, home, plan, signers[WRITER])


def flip_base64_char(text: str, at: int) -> str:
    """`text` with the base64 character at `at` changed to another base64 character."""
    swap = "B" if text[at] != "B" else "C"
    return text[:at] + swap + text[at + 1 :]
