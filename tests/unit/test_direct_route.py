"""DirectRoute: documented by FastAPI like any route, served without FastAPI's per-request
machinery, and refused at definition time when its endpoint does not fit."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient

from ledger.api.direct_route import DirectRoute


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"length": len(body), "q": request.query_params.get("q")}, 201)


def app_with(endpoint, **options) -> FastAPI:
    router = APIRouter(prefix="/v1")
    router.add_api_route(
        "/echo", endpoint, methods=["POST"], route_class_override=DirectRoute, **options
    )
    app = FastAPI()
    app.include_router(router)
    return app


def test_serves_the_endpoint_and_documents_the_route() -> None:
    app = app_with(echo, summary="Echo the body length", status_code=201)
    client = TestClient(app)
    answer = client.post("/v1/echo?q=x", content=b"12345")
    assert answer.status_code == 201
    assert answer.json() == {"length": 5, "q": "x"}
    operation = app.openapi()["paths"]["/v1/echo"]["post"]
    assert operation["summary"] == "Echo the body length"
    assert "201" in operation["responses"]


def test_a_method_the_route_lacks_is_answered_405() -> None:
    answer = TestClient(app_with(echo)).put("/v1/echo", content=b"")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_exceptions_reach_the_apps_handlers() -> None:
    class Refused(Exception):
        pass

    async def refuse(request: Request) -> Response:
        raise Refused

    app = app_with(refuse)
    app.add_exception_handler(Refused, lambda _r, _e: JSONResponse({"refused": True}, 409))
    answer = TestClient(app).post("/v1/echo", content=b"")
    assert (answer.status_code, answer.json()) == (409, {"refused": True})


def sync_endpoint(request: Request) -> Response:
    return Response()


async def two_parameters(request: Request, q: str) -> Response:
    return Response()


async def no_request(q: str) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        (sync_endpoint, "must be `async def`"),
        (two_parameters, "exactly one `Request` parameter"),
        (no_request, "exactly one `Request` parameter"),
    ],
)
def test_refuses_endpoints_that_do_not_fit(endpoint, why: str) -> None:
    with pytest.raises(TypeError, match=why):
        app_with(endpoint)


def test_refuses_dependencies_it_would_not_run() -> None:
    with pytest.raises(TypeError, match="runs no dependencies"):
        app_with(echo, dependencies=[Depends(lambda: None)])
