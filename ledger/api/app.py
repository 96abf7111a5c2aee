"""`create_app(settings)`: the FastAPI application for one worker process.

Each worker opens the ledger and checks what it is sent. A lone worker runs its own group
committer; the workers of `sealchain serve --workers N` hand their checked entries to the one
block writer the command starts (ledger.service.block_writer, docs/architecture.md §4).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from ledger.api.deps import ApiState
from ledger.api.i18n import register_domains
from ledger.api.metrics import Metrics
from ledger.api.middleware import (
    BodyLimitMiddleware,
    HeadAsGetMiddleware,
    RequestContextMiddleware,
)
from ledger.api.models import Envelope, Problem
from ledger.api.pages.routes import static_router
from ledger.api.problems import PROBLEM_JSON, install_problem_handlers
from ledger.api.routes import entries, log, members, ops, tiles
from ledger.config import Settings
from ledger.core.block import BlockHeader
from ledger.core.canonical import MAX_ENTRY_BYTES
from ledger.errors import ConfigError
from ledger.service.app import App
from ledger.service.block_writer import BlockWriterClient
from ledger.service.cosigning import CheckpointPusher
from ledger.service.group_commit import GroupCommitter
from ledger.service.node import LedgerNode, open_node

DESCRIPTION = """A permissioned, hash-chained, publicly verifiable ledger.

Writers are member organisations signing envelopes with Ed25519; every receipt verifies offline
with the trust policy (`sealchain verify`). Errors are RFC 9457 `application/problem+json` with a
stable `code`. Raw entries and blocks are for members (signed requests, see docs/api.md).
"""


def create_app(
    settings: Settings | None = None,
    *,
    extra_apps: Iterable[App] = (),
    node: LedgerNode | None = None,
) -> FastAPI:
    settings = settings or Settings()
    node = node or open_node(settings, extra_apps=extra_apps)
    assert node.sequencer is not None, "the API needs a writable node (log key)"
    metrics = Metrics()
    committer: GroupCommitter | BlockWriterClient
    if settings.writer_socket:  # the block writer commits, and sends checkpoints to witnesses
        pusher = None
        committer = BlockWriterClient(
            settings.writer_socket, on_blocks=metrics.blocks_answered, on_lost=_stop_this_worker
        )
    else:
        pusher = checkpoint_pusher(settings, node)
        committer = GroupCommitter(
            node.sequencer,
            max_entries=settings.block_max_entries,
            max_wait_ms=settings.block_max_wait_ms,
            on_block=_on_block(metrics, pusher),
        ).start()
    api_state = ApiState(node, committer, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(committer, BlockWriterClient):
            await committer.connect()
        if pusher is not None:
            pusher.start()
        yield
        # Entries accepted with wait=false are sequenced before the committer goes.
        if app.state.background:
            await asyncio.wait(app.state.background)
        # Reads already queued are answered before the engine they read goes.
        await anyio.to_thread.run_sync(api_state.close_reads)
        if isinstance(committer, BlockWriterClient):
            await committer.close()
        else:
            committer.stop()
        if pusher is not None:
            pusher.stop()
        node.close()

    app = FastAPI(
        title="Sealchain",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # No 307 from /v1/checkpoint/ to /v1/checkpoint: Starlette builds that Location from
        # the Host header, which a client chooses (and a shared cache could then replay).
        redirect_slashes=False,
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
        },
    )
    app.state.sealchain = api_state
    app.state.background = set()
    install_problem_handlers(app)
    reads = [module.router for module in (log, members, ops, tiles)]
    pages = [router for plugin in node.registry.apps for router in plugin.pages]
    _check_page_paths(node.registry.apps, [entries.router, *reads])
    # Routes are tried in order, and FastAPI matches an included router's routes at about
    # 1.5 µs each: submits first, then the pages people's phones open (a pack's scan was behind
    # 21 routes, 32 µs of about 440), then the log's reads, then the apps' APIs. The order of
    # pages and core cannot change an answer: no page path can match a core one (just checked).
    for router in [entries.router, *pages, *reads]:
        app.include_router(router)
    # The route FastAPI records for a request is the app router's own, whose path lacks the
    # prefix it was included under; metrics and logs want the path a client sees.
    route_paths: dict[int, str] = {}
    for plugin in node.registry.apps:
        prefix = f"/v1/{plugin.name}"
        for router in plugin.api:
            app.include_router(router, prefix=prefix)
            route_paths.update(
                (id(route), prefix + route.path)
                for route in router.routes
                if isinstance(route, APIRoute)
            )
    _offline_docs(app)
    sites = [plugin.site for plugin in node.registry.apps if plugin.site is not None]
    app.include_router(static_router(sites))  # after the docs' /static/swagger-ui mount
    register_domains(site.domains[-1] for site in sites)  # public problems in Chinese too
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    app_limits = node.registry.body_limits()  # apps may raise it for their upload routes

    def limit_for(method: str, path: str) -> int:
        if method not in ("POST", "PUT", "PATCH"):
            # No route reads a GET body, but a signed read hashes whatever body comes, so
            # without a limit a forged one could make the server buffer any amount.
            return settings.max_request_bytes
        if path == "/v1/entries":
            return MAX_ENTRY_BYTES
        if path == "/v1/entries/batch":
            return settings.max_batch_bytes
        return app_limits.get(path, settings.max_request_bytes)

    app.add_middleware(HeadAsGetMiddleware)  # innermost: routes see a GET
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, route_paths=route_paths)
    return app


def _stop_this_worker() -> None:
    """A worker that lost its block writer can write nothing more: it stops (gracefully, as
    for `serve`'s own SIGTERM), and `serve` then stops the rest for the supervisor to restart."""
    logging.getLogger("sealchain.api").error("lost the block writer: this worker stops")
    os.kill(os.getpid(), signal.SIGTERM)


def _on_block(metrics: Metrics, pusher: CheckpointPusher | None) -> Callable[[BlockHeader], None]:
    def on_block(header: BlockHeader) -> None:
        metrics.block_committed(header)
        if pusher is not None:
            pusher.wake()

    return on_block


def checkpoint_pusher(settings: Settings, node: LedgerNode) -> CheckpointPusher | None:
    """The thread sending checkpoints to the policy's witnesses, if it has any with a URL
    (policy.txt, or SEALCHAIN_WITNESS_URLS) and this process is the one that sends."""
    urls = {**node.log_policy.witness_urls, **settings.witness_url_overrides()}
    if not urls or not settings.push_checkpoints:
        return None
    try:
        return CheckpointPusher(node.engine, node.log_policy, urls)
    except ValueError as e:
        raise ConfigError(f"SEALCHAIN_WITNESS_URLS: {e}") from e


# First path segments of the app's own routes outside the core routers: the OpenAPI document,
# the offline docs and the static files (pages' and Swagger UI's).
_SHELL_SEGMENTS = frozenset({"openapi.json", "docs", "static"})


def _check_page_paths(apps: Iterable[App], core: Iterable[APIRouter]) -> None:
    """Refuse an app whose page path could take a request of the core API or the shell: each
    page path starts with a literal segment that no core route starts with (so pages may be
    tried before the core, and an app cannot answer for the log)."""
    taken = set(_SHELL_SEGMENTS)
    for router in core:
        taken.update(_first_segment(getattr(route, "path", "")) or "" for route in router.routes)
    for plugin in apps:
        for router in plugin.pages:
            for route in router.routes:
                path = getattr(route, "path", "")
                first = _first_segment(path)
                if first is None or first in taken:
                    raise ConfigError(
                        f"app {plugin.name!r}: page path {path!r} must start with a fixed "
                        f"segment that the ledger does not use ({', '.join(sorted(taken))})"
                    )


def _first_segment(path: str) -> str | None:
    """The first segment of a route path, or None when it is (or holds) a parameter."""
    first = path.lstrip("/").split("/", 1)[0]
    return None if "{" in first else first


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI from the swagger-ui-bundle package: /docs works with no internet."""
    app.mount(
        "/static/swagger-ui",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-ui",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Sealchain API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        )


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _validation_errors_are_problems(schema)
    for model in (Problem, Envelope):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    app.openapi_schema = schema
    return schema


def configure_logging() -> None:
    """Structured logs: one JSON object per line on stderr (access lines carry request ids)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("sealchain.access", "sealchain.api"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _validation_errors_are_problems(schema: dict[str, Any]) -> None:
    """FastAPI documents 422 HTTPValidationError; we answer 400 `invalid-request` problems."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            generated = responses.get("422", {}).get("content", {}).get("application/json", {})
            if "HTTPValidationError" not in str(generated.get("schema", "")):
                continue
            del responses["422"]
            entry = responses.setdefault("400", {"description": "", "content": problem})
            described = "`invalid-request`: Invalid request"
            entry["description"] = "; ".join(filter(None, [entry["description"], described]))
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and `sealchain serve`: settings from SEALCHAIN_* env."""
    configure_logging()
    app = create_app(Settings())
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Move everything built so far (FastAPI, pydantic and SQLAlchemy internals, the app) out of
    the cyclic garbage collector's reach for the life of the process.

    Otherwise every full collection walks all of it again, and a 1000-entry batch allocates
    enough to trigger several: with the freeze, batch ingest went from 0.67-0.71 to 0.78-0.79 of
    raw verifications in alternating runs (docs/benchmarks.md). Objects made later, per request,
    are collected as before. Only for a serving process: a test process that builds many apps
    would keep their cyclic garbage forever."""
    gc.collect()
    gc.freeze()
