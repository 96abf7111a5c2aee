"""Two public pages for people who check many certificates: search (by manufacturer, model,
product name or type) and the bulk check of a CSV. Both show the server's answers, and say
so: a status is verified in the browser only on a certificate's own page, which each result
links to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from apps.certs import state, views
from apps.certs.catalog import CATALOGS
from apps.certs.labels import STATUS
from apps.certs.public_api import MAX_CSV_BYTES, MAX_CSV_ROWS
from apps.certs.site import SITE
from ledger.plugin import Ledger, LedgerDep

lookup_pages = APIRouter(tags=["certs pages"])
SHOWN = 100  # results on one page; a narrower query finds the rest


@lookup_pages.get(
    "/certs/search",
    summary="Search certificates (the server's answer, each linked to its verified page)",
    response_class=HTMLResponse,
    responses={
        422: {
            "description": "a query shorter than 2 or longer than 60 characters: the page says so",
            "content": {"text/html": {}},
        }
    },
)
def search_page(
    request: Request,
    ledger: LedgerDep,
    q: Annotated[str, Query()] = "",  # its length is checked below, as a message on the page
) -> Response:
    # The messages and labels made here are in the reader's language, as the template's are.
    with SITE.speaking(request):
        return _search(request, ledger, q.strip())


def _search(request: Request, ledger: Ledger, query: str) -> Response:
    context: dict[str, object] = {"q": query, "results": None, "capped": False, "problem": None}
    if query and not 2 <= len(query) <= 60:
        context["problem"] = SITE.gettext("Search for 2 to 60 characters.")
        return SITE.render(request, "search_page.html", context, status_code=422)
    if query:
        today = datetime.now(UTC).date()
        with ledger.read() as conn:
            found = state.search(conn, query, limit=SHOWN + 1)
            context["results"] = [
                {
                    "number": c.number,
                    "manufacturer": c.manufacturer,
                    "product": c.product_name,
                    "model": f"{c.model} {c.version}",
                    "type": CATALOGS["2022"].get(c.product_type, c.product_type),
                    "status": (status := views.status_of(conn, c, today).status),
                    "status_label": SITE.gettext(STATUS[status]),
                }
                for c in found[:SHOWN]
            ]
        context["capped"] = len(found) > SHOWN
    return SITE.render(request, "search_page.html", context)


@lookup_pages.get(
    "/certs/bulk",
    summary="Check a CSV of certificate numbers (answered by the server as a CSV)",
    response_class=HTMLResponse,
)
def bulk_page(request: Request) -> Response:
    limits = {"max_bytes": MAX_CSV_BYTES, "max_rows": MAX_CSV_ROWS}
    return SITE.render(request, "bulk_page.html", {"limits": limits})
