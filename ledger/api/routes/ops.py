"""Operations: health and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response

from ledger.api.deps import StateDep
from ledger.api.models import Health
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
    summary="Prometheus metrics of this worker process",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
