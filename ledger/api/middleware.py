"""ASGI middleware: body limits enforced before parsing, request ids, access logs, latency."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.api.metrics import Metrics
from ledger.api.problems import PROBLEM_JSON, http_problem

log = logging.getLogger("sealchain.access")
Limit = Callable[[str, str], int]
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _TooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit. An HTTPException, because
    FastAPI turns any other error raised while it reads a form into a 400; this one it lets
    through to the problem handlers, which answer 413 `payload-too-large`."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the {limit}-byte limit for this route")


def _problem_413(limit: int, scope: Scope) -> bytes:
    # Answered before any route runs, so built here rather than by the exception handlers.
    problem = http_problem(413, _TooLarge(limit).detail)
    problem["instance"] = scope["path"]
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        problem["request_id"] = request_id
    return json.dumps(problem).encode()


class BodyLimitMiddleware:
    """Answer 413 as soon as a body is known to exceed its route's limit, before any parsing:
    from Content-Length when given, else while counting streamed chunks."""

    def __init__(self, app: ASGIApp, limit_for: Limit) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        if declared is None and not chunked:
            # Neither header: an HTTP/1.1 request without a body (RFC 9112, 6.3), nothing to
            # limit; most GETs take this path.
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await self._reject(scope, send, limit)
                return
            if not chunked:
                # The server delivers exactly Content-Length bytes, so there is nothing to count
                # (with Transfer-Encoding too, the chunks decide the length: count them).
                await self.app(scope, receive, send)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:  # when no exception handler answered it first
            await self._reject(scope, send, limit)

    @staticmethod
    async def _reject(scope: Scope, send: Send, limit: int) -> None:
        body = _problem_413(limit, scope)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


ORIGINAL_METHOD = "sealchain.method"  # scope key: the method the client sent


def request_method(scope: Scope) -> str:
    """The method the client sent: "HEAD" where HeadAsGetMiddleware shows the app a GET."""
    method: str = scope.get(ORIGINAL_METHOD, scope["method"])
    return method


class HeadAsGetMiddleware:
    """HEAD is GET without the body (RFC 9110, 9.3.2). FastAPI routes declare only GET, so
    without this every HEAD would be a 405; the headers, Content-Length included, are GET's.

    The app gets a copy of the scope that says GET: uvicorn keeps reading the original, which
    must still say HEAD, or it would wait for the body that Content-Length announces. Code that
    must tell the two apart (a signed read, a scan counter) asks `request_method`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        as_get = {**scope, "method": "GET", ORIGINAL_METHOD: "HEAD"}
        try:
            await self.app(as_get, receive, headers_only)
        finally:
            if "route" in as_get:  # for the metrics and access log of the outer middleware
                scope["route"] = as_get["route"]


class RequestContextMiddleware:
    """A request id (from X-Request-Id or new), one JSON access-log line, latency metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics, route_paths: dict[int, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.route_paths = route_paths  # id(route) -> its path with the prefix it is served at
        # Histogram children by (method, route): `labels()` builds its key under a lock per call.
        self._latency: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = (_header(scope, b"x-request-id") or b"").decode("latin-1")[:64]
        request_id = given if given.isprintable() and given else os.urandom(16).hex()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["metrics"] = self.metrics
        started = time.perf_counter()
        status = 500
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = self.route_paths.get(id(route)) or getattr(route, "path", None) or "unmatched"
            self._observe(scope["method"], path, elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    json.dumps(
                        {
                            "event": "request",
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                        }
                    )
                )

    def _observe(self, method: str, route: str, seconds: float) -> None:
        if method not in METHODS:
            method = "other"  # a client must not be able to mint new metric series
        child = self._latency.get((method, route))
        if child is None:
            child = self._latency[(method, route)] = self.metrics.latency.labels(
                method=method, route=route
            )
        child.observe(seconds)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case), without building a dict of them all."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None
