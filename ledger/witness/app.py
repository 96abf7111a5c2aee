"""The witness over HTTP: `POST /add-checkpoint` (C2SP tlog-witness) and, for monitors and
people, `GET /` naming the witness, its key, the logs it follows and how far its replica is;
and, from the replica, the log's reads and the apps' public pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from ledger.api.deps import ApiState
from ledger.api.i18n import register_domains
from ledger.api.metrics import Metrics
from ledger.api.pages.routes import static_router
from ledger.api.problems import install_problem_handlers
from ledger.api.routes import log, members, tiles
from ledger.service.node import LedgerNode
from ledger.witness.peer import Peer
from ledger.witness.protocol import MAX_BODY, Witness


def witness_app(
    witness: Witness, peer: Peer | None = None, replica_node: LedgerNode | None = None
) -> FastAPI:
    """With `replica_node` (the peer's replica opened read-only) the peer also serves what the
    log serves to readers, from its own copy: the checkpoint and tiles (byte for byte the
    log's), proofs and receipts, and the members."""
    api_state = None if replica_node is None else ApiState(replica_node, None, Metrics())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if api_state is not None:
            await run_in_threadpool(api_state.close_reads)

    app = FastAPI(
        title=f"Sealchain witness {witness.signer.name}",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    if replica_node is not None:
        app.state.sealchain = api_state
        install_problem_handlers(app)
        for module in (log, members, tiles):
            app.include_router(module.router)
        # The apps' public pages too (a pack's scan page, a deposit's or certificate's page):
        # their verdict is computed in the reader's browser, whoever serves the bundle.
        plugins = replica_node.registry.apps
        for plugin in plugins:
            for router in plugin.pages:
                app.include_router(router)
        sites = [plugin.site for plugin in plugins if plugin.site is not None]
        app.include_router(static_router(sites))
        register_domains(site.domains[-1] for site in sites)

    @app.post("/add-checkpoint", response_class=PlainTextResponse)
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():  # read no more than a request may hold
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse(f"the request is over {MAX_BODY} bytes\n", 413)
        # The state is a database and the replica may replay entries: off the event loop.
        answer = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        return Response(answer.body, answer.status, media_type=answer.content_type)

    @app.get("/", response_class=PlainTextResponse)
    def about() -> str:
        logs = "".join(f"log {origin}\n" for origin in sorted(witness.logs))
        text = f"witness {witness.signer.name}\nvkey {witness.signer.vkey}\n{logs}"
        if peer is not None:
            text += f"replica {peer.replica.size()}\n"
            if peer.fault is not None:
                text += f"fault {peer.fault}\n"
            if peer.last_error is not None:
                text += f"following {peer.last_error}\n"
        return text

    return app
