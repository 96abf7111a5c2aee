"""A validating peer: a witness that cosigns only what its own replica of the log agrees with.

It follows the log (its latest checkpoint, then the entry bundles up to it) in the background,
so a peer that was stopped catches up on its own; and when the log asks it to cosign a size it
has not reached, it replays up to that size first. Its answer then rests on two checks of its
own: the consistency proof from what it cosigned last (`Witness`), and the root its replica
computed by replaying every entry through the pipeline (`Replica`).

When it starts it audits its replica (ledger.service.audit, the same as `sealchain audit`):
a replica whose rows were changed under it is not one to vouch from, so the peer refuses
every checkpoint and names the row the audit found, until the replica is rebuilt.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass, field

from ledger.core.note import Checkpoint
from ledger.core.policy import LogPolicy
from ledger.service.app import Registry
from ledger.service.audit import audit
from ledger.witness.follow import LogReader, LogUnreachable
from ledger.witness.replica import Replica, ReplicaRefusal

log = logging.getLogger("sealchain.witness")


@dataclass
class Peer:
    replica: Replica
    reader: LogReader
    policy: LogPolicy
    fault: str | None = None  # why this peer vouches for nothing: its replica failed its audit
    last_error: str | None = None  # the latest failure following the log, for `GET /`
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def audit_replica(self, registry: Registry) -> None:
        """Run the audit over the replica; on a fault, refuse from now on and say why."""
        if self.replica.size() == 0:
            return
        result = audit(self.replica.engine, registry, log_keys=self.policy.logs)
        if not result.ok:
            self.fault = (
                f"this witness's own replica fails its audit ({result.first_bad}); it cosigns "
                "nothing until the replica is rebuilt (delete it and restart the witness)"
            )
            log.error("%s", self.fault)

    def check_root(self, checkpoint: Checkpoint, note: str) -> str | None:
        """Witness.check_root: None if the replica's tree at the checkpoint's size has its root,
        else why not (the witness answers 422 with that reason)."""
        if self.fault is not None:
            return self.fault
        try:
            self.sync_to(checkpoint.size, checkpoint.root, note)
        except (ReplicaRefusal, LogUnreachable) as e:
            return f"the witness's replica does not agree: {e}"
        return None

    def sync_to(self, size: int, root: bytes, note: str) -> None:
        """Bring the replica to `size` (whose log-signed checkpoint `note` says `root`), or
        check the root it already has there. Raises ReplicaRefusal or LogUnreachable."""
        with self._lock:
            have = self.replica.size()
            if have == 0 and size > 0:
                first, one = self.replica.open_log_note(self.reader.checkpoint(1))
                self.replica.extend(self.reader.entries(0, 1), 1, one.root, first)
                have = 1
            if size > have:
                self.replica.extend(self.reader.entries(have, size), size, root, note)
                return
            mine = self.replica.root_at(size)
            if mine != root:
                raise ReplicaRefusal(
                    f"FORK: at size {size} this replica has root {_b64(mine)}, the "
                    f"checkpoint says {_b64(root)}"
                )

    def follow_once(self) -> int:
        """Replay up to the log's latest checkpoint; returns the replica's size."""
        note = self.reader.checkpoint()
        _, checkpoint = self.replica.open_log_note(note)
        self.sync_to(checkpoint.size, checkpoint.root, note)
        self.replica.keep_cosignatures(note)
        return checkpoint.size

    def follow(self, interval: float = 1.0) -> None:
        """Follow the log until `stop()`: what the replica serves stays within `interval`
        seconds of the log, and a restarted peer catches up before it is asked to cosign."""
        while not self._stop.is_set():
            if self.fault is None:
                try:
                    self.follow_once()
                    self.last_error = None
                except (ReplicaRefusal, LogUnreachable) as e:
                    if str(e) != self.last_error:
                        log.warning("following the log: %s", e)
                    self.last_error = str(e)
                except Exception as e:  # a database fault: keep serving, say so, try again
                    log.exception("following the log failed")
                    self.last_error = f"{type(e).__name__}: {e}"
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
