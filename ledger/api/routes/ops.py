"""Operations: health and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response

from ledger.api.deps import StateDep
from ledger.api.models import Health
from ledger.api.problems import problem_responses
from ledger.config import address_allowed
from ledger.errors import NotFound
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Database reachable; current tree size")
def healthz(state: StateDep) -> Health:
    with read_transaction(state.node.engine) as conn:
        head = Repository(conn).head()
    size, height = (head.size, head.height) if head else (0, -1)
    return Health(status="ok", size=size, height=height, worker=os.getpid())


@router.get(
    "/metrics",
    summary="Prometheus metrics of this worker process (clients in SEALCHAIN_METRICS_ALLOW)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problem_responses(NotFound),  # to a client outside SEALCHAIN_METRICS_ALLOW
    },
)
def metrics(request: Request, state: StateDep) -> Response:
    client = request.client.host if request.client else None
    if not address_allowed(client, state.node.settings.metrics_networks()):
        # The same answer as for a path that has no route: an outsider learns nothing.
        raise NotFound(f"no route {request.url.path}")
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
