"""`Site`: an app's templates, static files and message catalogs, rendered in the shared layout.

An app keeps them in one folder:

    pages/templates/*.html                       Jinja2, extending "layout.html" (shared)
    pages/static/*.js, *.css, *.svg, *.png       served at /static/<app>/<name>
    pages/locale/zh_CN/LC_MESSAGES/<app>.po      text of its templates and public problems
    pages/locale/zh_CN/LC_MESSAGES/<app>_js.po   text its page scripts write

`Site.render` picks the language (i18n.negotiate), renders with the ledger's and the app's
catalogs, embeds the browser's messages, and answers with the security headers.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ledger.api import i18n
from ledger.api.pages.embed import script_json
from ledger.api.pages.headers import SECURITY_HEADERS
from ledger.errors import ConfigError, NotFound

SHARED = Path(__file__).parent
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\.(js|css|svg|png)$")
STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
COOKIE_MAX_AGE = 365 * 24 * 3600


def static_files(directory: Path) -> dict[str, Path]:
    """The files a static folder serves: flat, named plainly, of the types above. Read once, so
    a request can only ever name one of them (no paths, no dot-files, no templates)."""
    if not directory.is_dir():
        return {}
    return {
        p.name: p for p in sorted(directory.iterdir()) if p.is_file() and STATIC_NAME.match(p.name)
    }


class Site:
    """The public face of one app (or of the ledger itself: `Site("ledger", ...)`)."""

    def __init__(self, name: str, root: Path) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,30}", name):
            raise ConfigError(f"site name {name!r} must be a lower-case app name")
        self.name = name
        self.root = root
        self.static = static_files(root / "static")
        self.domains: tuple[tuple[Path, str], ...] = (i18n.LEDGER_DOMAIN, (root / "locale", name))
        self.env = Environment(
            loader=ChoiceLoader(
                [
                    FileSystemLoader(str(root / "templates")),
                    FileSystemLoader(str(SHARED / "templates")),
                ]
            ),
            autoescape=select_autoescape(["html"], default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=self._gettext, ngettext=self._ngettext, newstyle=True
        )
        self.env.filters.update(
            script_json=lambda value: Markup(script_json(value)),  # noqa: S704 - escaped JSON
            date=self._format_date,
            datetime=self._format_datetime,
            number=self._format_number,
        )
        self.env.globals["static"] = self.static_url

    # --- language ----------------------------------------------------------------------------

    def _translations(self) -> Any:
        return i18n.translations(i18n.current_locale.get(), self.domains)

    def _gettext(self, message: str) -> str:
        return str(self._translations().gettext(message))

    def _ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(self._translations().ngettext(singular, plural, n))

    @staticmethod
    def _format_date(value: date | str) -> str:
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, format="medium", locale=i18n.current_locale.get())

    @staticmethod
    def _format_datetime(value: datetime) -> str:
        return format_datetime(value, format="medium", locale=i18n.current_locale.get())

    @staticmethod
    def _format_number(value: float, digits: int = 2) -> str:
        pattern = "#,##0." + "#" * digits if digits else "#,##0"
        return format_decimal(value, format=pattern, locale=i18n.current_locale.get())

    def gettext(self, message: str, **params: Any) -> str:
        """`message` in the language of the request being rendered."""
        text = self._gettext(message)
        return text % params if params else text

    @contextmanager
    def speaking(self, request: Request) -> Iterator[str]:
        """Within: `gettext` and the date and number formats answer in the language of
        `request` (for what is not a page: a PDF certificate, say); yields the locale."""
        token = i18n.current_locale.set(i18n.negotiate(request))
        try:
            yield i18n.current_locale.get()
        finally:
            i18n.current_locale.reset(token)

    def format_date(self, value: date | str) -> str:
        return self._format_date(value)

    def format_datetime(self, value: datetime) -> str:
        return self._format_datetime(value)

    def format_number(self, value: float, digits: int = 2) -> str:
        return self._format_number(value, digits)

    # --- answers -----------------------------------------------------------------------------

    def static_url(self, name: str, *, site: str | None = None) -> str:
        return f"/static/{site or self.name}/{name}"

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        """The page in the request's language, with the security headers. The context may hold
        `bundle` (a proof bundle for the page's script) and `subject` (what the page is about,
        for the script to bind every entry to); both are embedded as JSON."""
        locale = i18n.negotiate(request)
        token = i18n.current_locale.set(locale)
        try:
            html = self.env.get_template(template).render(
                {
                    "site": self.name,
                    "lang": i18n.TAGS[locale],
                    "languages": _switch(request),
                    "browser_messages": i18n.browser_messages(locale, self.domains),
                    **(context or {}),
                }
            )
        finally:
            i18n.current_locale.reset(token)
        headers = {
            **SECURITY_HEADERS,
            "Content-Language": i18n.TAGS[locale],
            "Vary": "Accept-Language, Cookie",
            "Cache-Control": "no-store",  # a page holds live state and a scan count
        }
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        if (chosen := i18n.chosen_by_query(request)) is not None:
            response.set_cookie(
                i18n.COOKIE, i18n.TAGS[chosen], max_age=COOKIE_MAX_AGE, samesite="lax"
            )
        return response

    def static_response(self, name: str) -> FileResponse:
        path = self.static.get(name)
        if path is None:
            raise NotFound(f"no static file {name} in {self.name}")
        media_type = STATIC_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        # Revalidated each time (ETag): a page and the verifier it imports must not drift apart.
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        return FileResponse(path, media_type=media_type, headers=headers)


def _switch(request: Request) -> list[tuple[str, str, str]]:
    """(tag, name, link) of each language: a link relative to this page, keeping its query."""
    query = dict(request.query_params)
    return [
        (tag, i18n.LANGUAGE_NAMES[code], "?" + urlencode({**query, "lang": tag}))
        for code, tag in i18n.TAGS.items()
    ]


LEDGER_SITE = Site("ledger", SHARED)
