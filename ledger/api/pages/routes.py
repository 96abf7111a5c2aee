"""The routes of the shared page layer: every site's static files, and the ledger's own public
page, the explorer (with its JSON listing, /v1/explorer/blocks)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ledger.api.pages import explorer as explorer_page
from ledger.api.pages.site import LEDGER_SITE, Site
from ledger.api.routes import explorer as explorer_api
from ledger.errors import NotFound


def static_router(sites: Iterable[Site]) -> APIRouter:
    """One route for all sites' static files (`ledger` is the shared layer: verify.js, page.js,
    page.css), and the explorer's page and JSON route."""
    by_name = {site.name: site for site in (LEDGER_SITE, *sites)}
    router = APIRouter()

    @router.get("/static/{site}/{name}", include_in_schema=False)
    def static(site: str, name: str) -> FileResponse:
        found = by_name.get(site)
        if found is None:
            raise NotFound(f"no static files under /static/{site}")
        return found.static_response(name)

    router.include_router(explorer_page.router)
    router.include_router(explorer_api.router)
    return router
