"""One block writer for every worker of `sealchain serve --workers N`.

Each worker runs steps (1)-(8) on its own core (the signature check is most of the work) and
hands the checked entry to the block writer, a process of its own, over a Unix socket. The
writer cuts blocks with a GroupCommitter exactly as a lone worker does, so one block carries
every worker's clients, and its commits run under a GIL of their own instead of waiting for a
busy event loop's: with a committer in each worker, two workers on two cores left 40 % of the
machine idle and gave 1.04x one worker's single submits (docs/benchmarks.md, "One block writer
for all workers").

The writer runs again, inside the block transaction, every step that needs the log at the
entry's index (3, 6, 8 and 9), as it always does. It does not verify signatures again: it
trusts its workers, and only its owner can reach the socket, made in a directory of mode 0700.

The wire is a stream of frames, each a 4-byte big-endian length and a JSON object:

    request  {"id": n, "receipt": bool, "entries": [canonical entry text, ...]}
    answer   {"id": n, "outcomes": [outcome, ...], "blocks": {height: entries in it}}
    outcome  {"tx_id", "index", "height", "size", "time", "proof": [base64] | null,
              "checkpoint"} for an accepted entry, {"code", "detail", "extra"} for a refusal

`blocks` holds the size of each block the request's entries landed in, for the worker's
metrics. A worker may send a request before the answer to the last one: answers name their id.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import logging
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any

import orjson

from ledger.core.block import BlockHeader
from ledger.core.envelope import envelope_from_checked
from ledger.core.receipt import Receipt
from ledger.errors import InputError, LedgerError, StorageError
from ledger.service.app import Registry
from ledger.service.group_commit import Committer, GroupCommitter
from ledger.service.pipeline import Candidate
from ledger.service.sequencer import Accepted, Outcome

log = logging.getLogger("sealchain.block_writer")

_LENGTH = struct.Struct(">I")
# A batch of the largest entries with their proofs fits many times over; anything larger is a
# broken peer, not a request.
MAX_FRAME_BYTES = 256 * 1024 * 1024
_KEPT_BLOCKS = 4096  # sizes of the latest blocks, for answers that name them


def _frame(value: Any) -> bytes:
    body = orjson.dumps(value, default=str)  # a refusal's extra may hold a non-JSON value
    return _LENGTH.pack(len(body)) + body


async def _read_frame(reader: asyncio.StreamReader) -> Any | None:
    """The next frame's JSON value; None at the end of the stream."""
    try:
        (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise
        return None
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {length} bytes is larger than {MAX_FRAME_BYTES}")
    return orjson.loads(await reader.readexactly(length))


# --- outcomes on the wire ------------------------------------------------------------------------


@functools.cache
def _error_classes() -> dict[str, type[LedgerError]]:
    """Each problem code's class: the one that names it (a subclass that keeps its parent's
    code answers as the parent). Built on first use, once every app's errors are imported."""
    classes: dict[str, type[LedgerError]] = {}
    pending: list[type[LedgerError]] = [LedgerError]
    while pending:
        current = pending.pop()
        if "code" in vars(current):
            classes[current.code] = current
        pending.extend(current.__subclasses__())
    return classes


def encode_outcome(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, LedgerError):
        return {"code": outcome.code, "detail": outcome.detail, "extra": outcome.extra}
    receipt = outcome.receipt
    return {
        "tx_id": outcome.tx_id,
        "index": outcome.index,
        "height": outcome.block_height,
        "size": outcome.tree_size,
        "time": outcome.block_time,
        "proof": None if receipt is None else [base64.b64encode(p).decode() for p in receipt.proof],
        "checkpoint": None if receipt is None else receipt.checkpoint,
    }


def decode_outcome(value: Mapping[str, Any], candidate: Candidate) -> Outcome:
    """The outcome `encode_outcome` wrote for `candidate`; a receipt's entry is the candidate's
    own envelope, which the writer therefore need not send back."""
    if "code" in value:
        cls = _error_classes().get(value["code"], StorageError)
        error = cls.__new__(cls)
        # Every class is built by LedgerError's own constructor: a subclass's may ask for more.
        # An unknown code (a writer newer than this worker) answers 503, as storage failures do.
        LedgerError.__init__(error, value["detail"], **value["extra"])
        return error
    receipt = None
    if value["proof"] is not None:
        proof = tuple(base64.b64decode(p) for p in value["proof"])
        receipt = Receipt(candidate.envelope.as_dict(), value["index"], proof, value["checkpoint"])
    return Accepted(
        value["tx_id"], value["index"], value["height"], value["size"], receipt, value["time"]
    )


# --- the writer's end ----------------------------------------------------------------------------


class BlockWriterServer:
    """Answers the workers' requests with the outcomes of `committer`, which commits them."""

    def __init__(self, committer: GroupCommitter, registry: Registry) -> None:
        self.committer = committer
        self.registry = registry
        self._block_sizes: OrderedDict[int, int] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.StreamWriter] = set()

    def block_committed(self, header: BlockHeader) -> None:
        """The committer's `on_block` (its own thread): kept so answers can name block sizes."""
        self._block_sizes[header.height] = header.count
        while len(self._block_sizes) > _KEPT_BLOCKS:
            self._block_sizes.popitem(last=False)

    async def serve(self, path: str, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        """Listen on `path` until `stopping` is set, then answer what was asked before."""
        server = await asyncio.start_unix_server(self._connection, path=path)
        ready()
        await stopping.wait()
        server.close()  # no new connections
        if self._tasks:
            await asyncio.wait(self._tasks)
        for writer in list(self._connections):  # a worker still there learns it is alone
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
        while self._tasks:  # asked for meanwhile: committed, though nobody hears the answer
            await asyncio.wait(set(self._tasks))
        await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while (request := await _read_frame(reader)) is not None:
                task = asyncio.create_task(self._answer(request, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
            log.error("a worker's connection broke: %s", e)
        finally:
            if self._tasks:
                await asyncio.wait(self._tasks)
            self._connections.discard(writer)
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        try:
            outcomes = await self._outcomes(request)
            heights = {o.block_height for o in outcomes if isinstance(o, Accepted)}
            # .get: the committer's thread may drop an old block's size meanwhile.
            sizes = {h: self._block_sizes.get(h) for h in heights}
            blocks = {h: count for h, count in sizes.items() if count is not None}
            frame = _frame(
                {
                    "id": request["id"],
                    "outcomes": [encode_outcome(o) for o in outcomes],
                    "blocks": {str(h): count for h, count in blocks.items()},
                }
            )
        except Exception:  # a fault must not leave the worker's clients waiting forever
            count = len(request["entries"])
            log.exception("the block writer could not answer a request of %d entries", count)
            failed = encode_outcome(StorageError("the block writer failed to answer: see its log"))
            frame = _frame({"id": request["id"], "outcomes": [failed] * count, "blocks": {}})
        if writer.is_closing():
            return  # the worker went away; its entries are committed all the same
        writer.write(frame)
        with suppress(ConnectionError):
            await writer.drain()

    async def _outcomes(self, request: dict[str, Any]) -> list[Outcome]:
        rebuilt = [self._candidate(text) for text in request["entries"]]
        valid = [c for c in rebuilt if isinstance(c, Candidate)]
        # Per entry: a request may land in two blocks, and one failing must not answer 503
        # for entries the other committed.
        sequenced = iter(await self.committer.sequence_each(valid, receipt=request["receipt"]))
        return [next(sequenced) if isinstance(c, Candidate) else c for c in rebuilt]

    def _candidate(self, text: str) -> Candidate | LedgerError:
        """The candidate a worker checked, rebuilt from its canonical bytes: the envelope
        without its checks (`envelope_from_checked`: the worker made these bytes from what it
        checked), then step (7), which makes the body's model the projections read."""
        try:
            envelope = envelope_from_checked(text.encode())
            record_type, body = self.registry.parse_body(envelope)
        except InputError as e:  # a worker sent what it should have refused
            return e
        return Candidate(envelope, record_type, body)


# --- a worker's end ------------------------------------------------------------------------------

# A request's entries, at most: escaped in JSON they stay well under MAX_FRAME_BYTES, and so do
# their answers (a proof and a checkpoint each).
REQUEST_BYTES = 32 * 1024 * 1024
REQUEST_ENTRIES = 10_000


class _Request:
    """Entries from one turn of the worker's event loop, sent as one frame when the turn ends
    (or sooner, when full)."""

    def __init__(self, receipt: bool) -> None:
        self.receipt = receipt
        self.candidates: list[Candidate] = []
        self.size = 0
        # Who waits for which entries: (how many, their future), in the order they were added.
        self.waiting: list[tuple[int, asyncio.Future[list[Outcome]]]] = []

    def full_for(self, candidate: Candidate) -> bool:
        return bool(self.candidates) and (
            self.size + len(candidate.envelope.raw) > REQUEST_BYTES
            or len(self.candidates) >= REQUEST_ENTRIES
        )


class BlockWriterClient(Committer):
    """A worker's way to the block writer, with a GroupCommitter's `sequence` and
    `sequence_all`; used from the worker's event loop once `connect` was awaited there.

    What callers ask for during one turn of the event loop goes out as one request, sent when
    the turn's other callbacks have run: a frame per submit cost the writer's event loop a
    task, a read and a write per entry."""

    def __init__(
        self,
        path: str,
        *,
        on_blocks: Callable[[Mapping[int, int], int], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        """`on_blocks(block sizes by height, entries accepted)` is called with each answer;
        `on_lost()` when the connection ends other than by `close`."""
        self.path = path
        self.on_blocks = on_blocks
        self.on_lost = on_lost
        self._ids = itertools.count(1)
        self._sent: dict[int, _Request] = {}
        self._gathering: dict[bool, _Request] = {}  # by whether receipts are wanted
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._closing = False

    async def connect(self) -> None:
        try:
            reader, self._writer = await asyncio.open_unix_connection(self.path)
        except OSError as e:
            raise StorageError(f"cannot reach the block writer at {self.path}: {e}") from e
        self._reading = asyncio.create_task(self._read(reader))

    async def close(self) -> None:
        """Wait for the answers to what was asked, then hang up."""
        requests = [*self._gathering.values(), *self._sent.values()]
        waiting = [future for request in requests for _, future in request.waiting]
        if waiting:
            await asyncio.wait(waiting)
        self._closing = True
        if self._writer is not None:
            self._writer.close()
            with suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reading is not None:
            await self._reading

    async def sequence_all(
        self, candidates: Sequence[Candidate], *, receipt: bool = True
    ) -> list[Outcome]:
        if not candidates:
            return []
        if self._writer is None or self._writer.is_closing():
            raise StorageError("this worker has lost its block writer: nothing can be written")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[list[Outcome]]] = []
        request, added = self._gathering.get(receipt), 0
        for candidate in candidates:
            if request is None or request.full_for(candidate):
                if request is not None:
                    futures.append(self._wait_for(request, added, loop))
                    self._send(request)  # full: it goes now, and a new one gathers
                request, added = self._gather(receipt, loop), 0
            request.candidates.append(candidate)
            request.size += len(candidate.envelope.raw)
            added += 1
        assert request is not None
        futures.append(self._wait_for(request, added, loop))
        # Shielded: a caller cancelled (its client went away) leaves the answer to come.
        answers = [await asyncio.shield(future) for future in futures]
        return [outcome for answer in answers for outcome in answer]

    def _gather(self, receipt: bool, loop: asyncio.AbstractEventLoop) -> _Request:
        request = self._gathering[receipt] = _Request(receipt)
        loop.call_soon(self._send, request)  # once this turn's other callbacks have run
        return request

    @staticmethod
    def _wait_for(
        request: _Request, count: int, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[list[Outcome]]:
        future: asyncio.Future[list[Outcome]] = loop.create_future()
        request.waiting.append((count, future))
        return future

    def _send(self, request: _Request) -> None:
        if self._gathering.get(request.receipt) is not request:
            return  # sent already, when it was full
        del self._gathering[request.receipt]
        if self._writer is None or self._writer.is_closing():
            _fail(request, StorageError("the block writer went away before it was asked"))
            return
        request_id = next(self._ids)
        self._sent[request_id] = request
        entries = [c.envelope.raw.decode() for c in request.candidates]
        self._writer.write(
            _frame({"id": request_id, "receipt": request.receipt, "entries": entries})
        )

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (answer := await _read_frame(reader)) is not None:
                self._settle(answer)
        except Exception as e:  # whatever broke it, every waiter must hear
            if not self._closing:
                log.error("the connection to the block writer broke: %r", e)
        finally:
            gone = StorageError("the block writer went away before it answered")
            for request in [*self._sent.values(), *self._gathering.values()]:
                _fail(request, gone)
            self._sent.clear()
            self._gathering.clear()
            if self._writer is not None:
                self._writer.close()
            if not self._closing and self.on_lost is not None:
                self.on_lost()

    def _settle(self, answer: dict[str, Any]) -> None:
        request = self._sent.pop(answer["id"])
        try:
            outcomes = [
                decode_outcome(value, candidate)
                for value, candidate in zip(answer["outcomes"], request.candidates, strict=True)
            ]
        except Exception:  # an answer this worker cannot read fails its waiters
            log.exception("an answer of the block writer could not be read")
            _fail(request, StorageError("the block writer's answer could not be read"))
            return
        if self.on_blocks is not None:
            accepted = sum(isinstance(o, Accepted) for o in outcomes)
            self.on_blocks({int(h): n for h, n in answer["blocks"].items()}, accepted)
        start = 0
        for count, future in request.waiting:
            if not future.done():
                future.set_result(outcomes[start : start + count])
            start += count


def _fail(request: _Request, error: Exception) -> None:
    for _, future in request.waiting:
        if not future.done():
            future.set_exception(error)
