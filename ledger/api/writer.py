"""The block writer process of `sealchain serve --workers N` (ledger.service.block_writer).

It opens the ledger as a lone worker would, commits the blocks of every worker's entries and
sends their checkpoints to the witnesses. It stops on SIGTERM, after the workers: what they
handed it is committed and answered first.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from ledger.api.app import checkpoint_pusher, configure_logging, freeze_startup_objects
from ledger.config import Settings
from ledger.core.block import BlockHeader
from ledger.service.block_writer import BlockWriterServer
from ledger.service.group_commit import GroupCommitter
from ledger.service.node import open_node


def run_block_writer(path: str, ready: Callable[[], None]) -> None:
    """Serve the workers on the Unix socket `path` until SIGTERM; `ready()` once it listens."""
    configure_logging()
    settings = Settings()
    node = open_node(settings)
    assert node.sequencer is not None
    pusher = checkpoint_pusher(settings, node)
    server: BlockWriterServer

    def on_block(header: BlockHeader) -> None:
        server.block_committed(header)
        if pusher is not None:
            pusher.wake()

    committer = GroupCommitter(
        node.sequencer,
        max_entries=settings.block_max_entries,
        max_wait_ms=settings.block_max_wait_ms,
        on_block=on_block,
    )
    server = BlockWriterServer(committer, node.registry)
    committer.start()
    if pusher is not None:
        pusher.start()
    freeze_startup_objects()
    try:
        asyncio.run(_serve_until_terminated(server, path, ready))
    finally:
        committer.stop()
        if pusher is not None:
            pusher.stop()
        node.close()


async def _serve_until_terminated(
    server: BlockWriterServer, path: str, ready: Callable[[], None]
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await server.serve(path, ready, stopping)
