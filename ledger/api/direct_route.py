"""`DirectRoute`: a FastAPI route whose endpoint reads the Request and returns a Response itself.

FastAPI documents the route from its arguments (summary, responses, openapi_extra) as usual,
but a request goes straight to the endpoint: no dependency solving, parameter validation,
return-value serialisation or per-request exit stacks. On the submit path that machinery cost
about two fifths of a request (py-spy, docs/benchmarks.md). Such an endpoint reads its own
parameters and raises `ledger.errors` problems, which the app's exception handlers answer as
for any route. It takes no dependencies and no router-level options (dependencies,
max_body_size); the BodyLimitMiddleware limits its body.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        _require_direct_endpoint(endpoint)
        if kwargs.get("dependencies"):
            raise TypeError(f"{path}: a DirectRoute runs no dependencies; check in the endpoint")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Endpoint:
        # `handle` below serves requests; this only keeps FastAPI from building (at start-up)
        # a dependency-solving handler for an endpoint that never uses one.
        return cast(Endpoint, self.endpoint)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # FastAPI's 405 answer
            return
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def _require_direct_endpoint(endpoint: Callable[..., Any]) -> None:
    """Fail at import time, not per request, if the endpoint does not fit a direct route."""
    name = getattr(endpoint, "__qualname__", repr(endpoint))
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{name}: a DirectRoute endpoint must be `async def`")
    parameters = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    if len(parameters) != 1 or parameters[0].annotation is not Request:
        raise TypeError(f"{name}: a DirectRoute endpoint takes exactly one `Request` parameter")
