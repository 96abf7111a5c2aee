"""Static files of the shared page layer and of every app's site: /static/<site>/<name>."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ledger.api.pages.site import LEDGER_SITE, Site
from ledger.errors import NotFound


def static_router(sites: Iterable[Site]) -> APIRouter:
    """One route for all sites; `ledger` is the shared layer (verify.js, page.js, page.css)."""
    by_name = {site.name: site for site in (LEDGER_SITE, *sites)}
    router = APIRouter(include_in_schema=False)

    @router.get("/static/{site}/{name}")
    def static(site: str, name: str) -> FileResponse:
        found = by_name.get(site)
        if found is None:
            raise NotFound(f"no static files under /static/{site}")
        return found.static_response(name)

    return router
