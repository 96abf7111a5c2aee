"""C2SP tlog-witness `add-checkpoint`: what a witness checks before it cosigns, and the answer
it gives (../shared/specs/c2sp/tlog-witness.md). Pure but for the state it is handed.

A witness cosigns a checkpoint only if the log's key signed it and a consistency proof leads
to it from the checkpoint the witness cosigned last for that origin; it then records the new
one with a compare-and-swap, so two concurrent requests cannot both advance from one size.
A log that rewrote its history cannot produce that proof: every witness refuses, and says why.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.core import merkle
from ledger.core.keys import Signer, Verifier
from ledger.core.note import (
    Checkpoint,
    Note,
    cosign,
    parse_checkpoint,
    parse_note,
    verified_signers,
)
from ledger.errors import NoteError, ProofError

MAX_BODY = 64 * 1024 + 64 * 45 + 32  # a checkpoint note, 63 proof lines, the old size line
MAX_PROOF_LINES = 63
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint a witness cosigned for one origin."""

    size: int
    root: bytes


class WitnessState(Protocol):
    def latest(self, origin: str) -> Cosigned | None: ...

    def swap(self, origin: str, old: Cosigned | None, new: Cosigned, note: str) -> bool:
        """Record `new` if the latest is still `old`; False if another request got there."""
        ...


@dataclass(frozen=True)
class Request:
    old_size: int
    proof: list[bytes]
    note: Note


def parse_request(body: bytes) -> Request:
    """The add-checkpoint body: `old N`, proof lines, an empty line, the checkpoint note.
    Raises ValueError (a 400) when it is not that."""
    if len(body) > MAX_BODY:
        raise ValueError(f"the request is over {MAX_BODY} bytes")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ValueError("the request is not UTF-8") from None
    head, sep, note_text = text.partition("\n\n")
    if not sep:
        raise ValueError("no empty line between the proof and the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _decimal(first[4:]):
        raise ValueError("the first line must be 'old <size>' with no leading zeroes")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise ValueError(f"a proof line is not base64: {line[:60]!r}") from None
        if len(digest) != merkle.HASH_LEN:
            raise ValueError("a proof line is not one 32-byte hash")
        proof.append(digest)
    try:
        note = parse_note(note_text)
    except NoteError as e:
        raise ValueError(f"the checkpoint is not a signed note: {e.detail}") from None
    return Request(int(first[4:]), proof, note)


def _decimal(text: str) -> bool:
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


@dataclass
class Witness:
    """A witness for the logs in `logs` (origin -> the log's verifiers), cosigning as `signer`
    (a cosignature/v1 key) at the times `clock` gives (Unix seconds)."""

    signer: Signer
    logs: dict[str, Sequence[Verifier]]
    state: WitnessState
    clock: Callable[[], int]
    check_root: Callable[[Checkpoint, str], str | None] | None = None
    """Optional: a validating witness's own view, (checkpoint, note text) -> None if its
    replica has that root at that size, else why not; it then cosigns only what it
    re-verified itself."""

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            request = parse_request(body)
            checkpoint = parse_checkpoint(request.note.text)
        except (ValueError, NoteError) as e:
            return Answer(400, f"{getattr(e, 'detail', e)}\n")
        verifiers = self.logs.get(checkpoint.origin)
        if verifiers is None:
            return Answer(404, f"unknown log origin {checkpoint.origin!r}\n")
        try:
            if not verified_signers(request.note, verifiers):
                return Answer(403, "the checkpoint is not signed by the log's key\n")
        except NoteError as e:
            return Answer(403, f"{e.detail}\n")
        if request.old_size > checkpoint.size:
            return Answer(400, "the old size is larger than the checkpoint's\n")
        latest = self.state.latest(checkpoint.origin)
        if request.old_size != (0 if latest is None else latest.size):
            return Answer(409, f"{0 if latest is None else latest.size}\n", SIZE_TYPE)
        refusal = self._consistency(request, checkpoint.size, checkpoint.root, latest)
        if refusal is None and self.check_root is not None:
            refusal = self.check_root(checkpoint, str(request.note))
        if refusal is not None:
            return Answer(422, refusal + "\n")
        new = Cosigned(checkpoint.size, checkpoint.root)
        if not self.state.swap(checkpoint.origin, latest, new, str(request.note)):
            now = self.state.latest(checkpoint.origin)
            return Answer(409, f"{0 if now is None else now.size}\n", SIZE_TYPE)
        line = cosign(request.note.text, self.signer, self.clock()).line()
        return Answer(200, line)

    @staticmethod
    def _consistency(
        request: Request, size: int, root: bytes, latest: Cosigned | None
    ) -> str | None:
        if size == 0 and root != merkle.EMPTY_ROOT:
            return "a checkpoint of size 0 must have the empty tree's root"
        if latest is None or latest.size == 0:
            return None if not request.proof else "the proof from size 0 must be empty"
        if latest.size == size:
            if request.proof:
                return "the proof between equal sizes must be empty"
            if latest.root != root:
                return f"FORK: size {size} has another root than the checkpoint cosigned before"
            return None
        try:
            merkle.verify_consistency(latest.size, size, request.proof, latest.root, root)
        except ProofError as e:
            return (
                f"the consistency proof from the cosigned size {latest.size} does not hold "
                f"({e.detail}): the log is not an extension of what this witness cosigned"
            )
        return None
