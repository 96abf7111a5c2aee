"""RFC 9457 problem+json for every error; never a stack trace to a client, never a 500 for input."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ledger.api import i18n
from ledger.api.i18n import Localized
from ledger.api.json_answer import JSONAnswer
from ledger.errors import InvalidRequest, LedgerError, NotFound

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("sealchain.api")

# Starlette raises HTTPException itself (routing, form parsing); each status maps to one of
# our documented codes and its title, so a client never meets a code docs/api.md does not list.
HTTP_PROBLEMS = {
    400: ("invalid-request", "Invalid request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
}


def problem_response(error: LedgerError, request: Request) -> JSONAnswer:
    body = error.problem()
    if isinstance(error.detail, Localized):
        body["detail"] = _in_language(request, error.detail.translated)
    return _respond(body, request)


def _in_language(request: Request, translate: Callable[[], str]) -> str:
    token = i18n.current_locale.set(i18n.negotiate(request))
    try:
        return translate()
    finally:
        i18n.current_locale.reset(token)


def _respond(
    body: dict[str, Any], request: Request, headers: dict[str, str] | None = None
) -> JSONAnswer:
    # A problem's title (and a public message's detail) in the client's language; `code` and
    # `type` are what programs match on, and never change.
    locale = i18n.negotiate(request)
    title = body.get("title")
    if locale != i18n.DEFAULT and isinstance(title, str):
        body["title"] = _in_language(request, lambda: i18n.gettext(title))
    headers = {**(headers or {}), "Content-Language": i18n.TAGS[locale]}
    body["instance"] = request.url.path
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if hasattr(request.state, "metrics"):
        request.state.metrics.rejections.labels(code=body["code"]).inc()
    return JSONAnswer(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def http_problem(status: int, detail: str) -> dict[str, Any]:
    """The problem body for an HTTP status the framework (or a middleware) answers itself."""
    code, title = HTTP_PROBLEMS.get(status, ("http-error", detail))
    return {
        "type": f"https://sealchain.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }


def _plain(message: object) -> str:
    """A validator's message for a person: `<class 'str'>` reads as `str`."""
    return PYTHON_CLASS.sub(r"\1", str(message))


PYTHON_CLASS = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this path (Starlette names only the first route's)."""
    paths = request.app.openapi().get("paths", {})
    if request.url.path in paths:  # a literal path wins over templates, as in routing
        return sorted(method.upper() for method in paths[request.url.path])
    methods: set[str] = set()
    for path, operations in paths.items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path))
        if re.fullmatch(pattern, request.url.path):
            methods.update(method.upper() for method in operations)
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> JSONAnswer:
        if exc.status >= 500:
            log.error("server error %s: %s", exc.code, exc.detail)
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONAnswer:
        errors = [
            {"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": _plain(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": "", "msg": "invalid"}
        error = InvalidRequest(f"{first['loc']}: {first['msg']}", errors=errors)
        return problem_response(error, request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONAnswer:
        if exc.status_code == 404:
            return problem_response(NotFound(f"no route {request.url.path}"), request)
        body = http_problem(exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Pages and static files are not in the OpenAPI document: keep Starlette's Allow.
            documented = ", ".join(_allowed_methods(request))
            headers["Allow"] = documented or headers.get("Allow", "")
        return _respond(body, request, headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up while sending its body: nothing failed here and nobody is left to
        # answer. 499 (nginx's "client closed request") marks it in the access log.
        log.info("client disconnected before its request body arrived")
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONAnswer:
        request_id = getattr(request.state, "request_id", "-")
        log.exception("unhandled error in request %s", request_id)
        body = {
            "type": "https://sealchain.dev/problems/internal",
            "title": "Internal error",
            "status": 500,
            "detail": f"the server failed; quote request id {request_id} to the operator",
            "code": "internal",
            "request_id": request_id,
        }
        return JSONAnswer(body, status_code=500, media_type=PROBLEM_JSON)


def problem_responses(*errors: type[LedgerError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the problem types a route can answer with."""
    by_status: dict[int, list[type[LedgerError]]] = {}
    for e in errors:
        by_status.setdefault(e.status, []).append(e)
    return {
        status: {
            "description": "; ".join(f"`{e.code}`: {e.title}" for e in group),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, group in sorted(by_status.items())
    }
