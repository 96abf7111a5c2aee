"""The log's side of witnessing: send each new checkpoint to the trust policy's witnesses
(C2SP tlog-witness `add-checkpoint`) and keep the cosignatures they answer.

One thread per witness, so a witness that is down or slow delays none of the others: the
checkpoint is final as soon as the quorum's cosignatures are in, whoever is missing. Each
thread sends only the latest checkpoint when it wakes (after a block, or every `poll`
seconds for blocks other processes wrote), so a burst of blocks costs a witness one request,
with a consistency proof from the size it cosigned last. A witness's 409 names that size (after
a restart of either side), and the request is made again from there.

A witness that refuses (422: a fork, or its replica disagrees) or cannot be reached is tried
again with a growing pause, and what it said is kept in `status` for `/healthz`-style pages and
the log's own log. Refusals are evidence: they are logged at error level with the reason.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from ledger.core.note import parse_note, verified_signers
from ledger.core.policy import LogPolicy
from ledger.errors import LedgerError
from ledger.service.proofs import consistency_proof
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import cosignatures

log = logging.getLogger("sealchain.cosigning")
SIZE_TYPE = "text/x.tlog.size"
MAX_PAUSE = 5.0


@dataclass
class WitnessStatus:
    url: str
    cosigned: int = 0  # the largest size this witness cosigned for this log
    error: str | None = None  # its last refusal or failure, None after a cosignature
    since: float = 0.0  # when `error` started


class CheckpointPusher:
    def __init__(
        self,
        engine: Engine,
        policy: LogPolicy,
        urls: Mapping[str, str],
        *,
        poll: float = 0.25,
        timeout: float = 60.0,
        on_cosigned: Callable[[str, int], None] = lambda name, size: None,
    ) -> None:
        unknown = sorted(set(urls) - set(policy.witnesses))
        if unknown:
            raise ValueError(f"witness URLs for names the policy does not list: {unknown}")
        self.engine = engine
        self.policy = policy
        self.poll = poll
        self.on_cosigned = on_cosigned
        self.status = {name: WitnessStatus(url.rstrip("/")) for name, url in urls.items()}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))
        self._wakes = {name: threading.Event() for name in urls}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> CheckpointPusher:
        for name in self.status:
            self.status[name].cosigned = self._stored_size(name)
            thread = threading.Thread(
                target=self._run, args=(name,), name=f"sealchain-cosign-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def wake(self) -> None:
        """A block was committed: every witness thread sends the latest checkpoint now."""
        for event in self._wakes.values():
            event.set()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        self._client.close()

    def _run(self, name: str) -> None:
        pause, next_try = 0.0, 0.0
        while not self._stop.is_set():
            self._wakes[name].wait(max(self.poll, next_try - time.monotonic()))
            self._wakes[name].clear()
            if self._stop.is_set():
                return
            if time.monotonic() < next_try:
                continue  # still pausing after a failure; a block does not cut it short
            try:
                ok = self.push(name)
            except Exception as e:  # the log must keep running whatever a witness does
                log.exception("cosigning with %s failed", name)
                ok = self._failed(name, f"{type(e).__name__}: {e}")
            pause = 0.0 if ok else min(MAX_PAUSE, max(0.25, pause * 2))
            next_try = time.monotonic() + pause

    def _stored_size(self, name: str) -> int:
        with read_transaction(self.engine) as conn:
            size = conn.execute(
                select(func.max(cosignatures.c.size)).where(cosignatures.c.witness == name)
            ).scalar()
        return int(size or 0)

    def push(self, name: str) -> bool:
        """Send the latest checkpoint to witness `name` if it has not cosigned it; True if
        it is cosigned now (or was), False if the witness refused or was not reached."""
        status = self.status[name]
        with read_transaction(self.engine) as conn:
            latest = Repository(conn).checkpoint()
        if latest is None:
            return True
        size, note = latest
        for _ in range(3):  # a 409 names the witness's size; then once more from there
            old = status.cosigned
            if old >= size:
                return True
            with read_transaction(self.engine) as conn:
                proof = consistency_proof(conn, old, size) if old else []
            body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof)
            try:
                response = self._client.post(
                    f"{status.url}/add-checkpoint", content=(body + "\n" + note).encode()
                )
            except httpx.HTTPError as e:
                return self._failed(name, f"not reached at {status.url}: {e or type(e).__name__}")
            if response.status_code == 409 and response.headers.get("content-type", "").startswith(
                SIZE_TYPE
            ):
                try:
                    status.cosigned = int(response.text.strip())
                except ValueError:
                    return self._failed(name, f"409 with a size that is not one: {response.text!r}")
                continue
            if response.status_code != 200:
                return self._failed(
                    name, f"refused size {size} ({response.status_code}): {response.text.strip()}"
                )
            return self._keep(name, size, note, response.text)
        return self._failed(name, "its cosigned size kept changing (another log process?)")

    def _keep(self, name: str, size: int, note: str, line: str) -> bool:
        line = line if line.endswith("\n") else line + "\n"
        try:
            cosigned = parse_note(note + line)
            if not verified_signers(cosigned, [self.policy.witnesses[name]]):
                return self._failed(name, "answered a line that is not its cosignature")
        except LedgerError as e:
            return self._failed(name, f"answered a cosignature that does not verify: {e.detail}")
        try:
            with write_transaction(self.engine) as conn:
                Repository(conn).add_cosignature(size, name, line)
        except IntegrityError:
            pass  # another process of this log stored it first
        status = self.status[name]
        status.cosigned, status.error = size, None
        self.on_cosigned(name, size)
        return True

    def _failed(self, name: str, why: str) -> bool:
        status = self.status[name]
        if why != status.error:
            log.error("witness %s: %s", name, why)
            status.since = time.monotonic()
        status.error = why
        return False
