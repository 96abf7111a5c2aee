"""Chinese and English for pages and public problems: which language a request gets, and the
message catalogs that say it.

The language is, in order: `?lang=` (the switch on every page, remembered in a cookie), the
`sealchain-lang` cookie, the `Accept-Language` header, English. Catalogs are gettext `.po`
files (Babel's tooling; `make messages` extracts and updates them), read once per process:

    <root>/locale/zh_CN/LC_MESSAGES/<domain>.po     text the server writes (templates, problems)
    <root>/locale/zh_CN/LC_MESSAGES/<domain>_js.po  text the browser writes (verifier, pages)

English is the source language: a message without a translation is shown as written. Signed
data is never translated: pages show it as it was signed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import HTTPConnection

DEFAULT = "en"
LOCALES = ("en", "zh_CN")  # Babel identifiers; pages and headers use the BCP 47 tags below
TAGS = {"en": "en", "zh_CN": "zh-CN"}
LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}
COOKIE = "sealchain-lang"
LEDGER_LOCALE_DIR = Path(__file__).parent / "pages" / "locale"

# The language of the request being answered, for gettext calls in templates and problems.
current_locale: ContextVar[str] = ContextVar("sealchain_locale", default=DEFAULT)


def locale_of_tag(tag: str) -> str | None:
    """`zh-CN`, `zh`, `zh-Hans-CN` -> zh_CN; `en-GB` -> en; anything else -> None.

    Chinese readers of every region get the one Chinese catalog we have (Simplified)."""
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    return {"zh": "zh_CN", "en": "en"}.get(primary)


def _accept_language(header: str) -> str | None:
    """The best supported language of an Accept-Language header (RFC 9110 12.5.4)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:20]):  # a header of 1,000 items is noise
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = locale_of_tag(tag)
        if locale is not None and 0 < quality <= 1:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


def negotiate(request: HTTPConnection) -> str:
    """The language to answer `request` in (see the module docstring)."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate and (found := locale_of_tag(candidate)) is not None:
            return found
    return _accept_language(request.headers.get("accept-language", "")) or DEFAULT


def chosen_by_query(request: HTTPConnection) -> str | None:
    """The language the switch asked for in this request, to remember in the cookie."""
    value = request.query_params.get("lang")
    return locale_of_tag(value) if value else None


def _read_po(path: Path) -> Translations:
    with path.open("rb") as f:
        catalog = read_po(f, locale=path.parents[1].name)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


@cache
def translations(locale: str, domains: tuple[tuple[Path, str], ...]) -> NullTranslations:
    """The catalogs of `domains` ((locale dir, domain) pairs, later ones winning) merged."""
    merged: NullTranslations = NullTranslations()
    for directory, domain in domains:
        path = directory / locale / "LC_MESSAGES" / f"{domain}.po"
        if path.exists():
            found = _read_po(path)
            if isinstance(merged, Translations):
                merged.merge(found)
            else:
                merged = found
    return merged


@cache
def browser_messages(locale: str, domains: tuple[tuple[Path, str], ...]) -> dict[str, Any]:
    """The `_js` catalogs of `domains` as the browser's t()/tn() read them: {msgid: text} and
    {singular: [forms]}; untranslated messages are left out (the msgid is the English)."""
    messages: dict[str, Any] = {}
    for directory, domain in domains:
        path = directory / locale / "LC_MESSAGES" / f"{domain}_js.po"
        if not path.exists():
            continue
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale)
        for message in catalog:
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, tuple) and isinstance(message.string, tuple | list):
                forms = [s for s in message.string if s]
                if forms:
                    messages[message.id[0]] = forms
            elif isinstance(message.id, str) and isinstance(message.string, str) and message.string:
                messages[message.id] = message.string
    return messages


LEDGER_DOMAIN = (LEDGER_LOCALE_DIR, "ledger")


def gettext(message: str, **params: Any) -> str:
    """`message` in the current request's language, with %(name)s placeholders filled."""
    text = translations(current_locale.get(), _problem_domains()).gettext(message)
    return text % params if params else text


_APP_DOMAINS: list[tuple[Path, str]] = []


def register_domains(domains: Iterable[tuple[Path, str]]) -> None:
    """Add apps' catalogs to those public problems are translated with (once per app)."""
    for domain in domains:
        if domain not in _APP_DOMAINS:
            _APP_DOMAINS.append(domain)


def _problem_domains() -> tuple[tuple[Path, str], ...]:
    return (LEDGER_DOMAIN, *_APP_DOMAINS)


class Localized(str):
    """A message that reads as English wherever a str does (logs, the CLI, tests), and that a
    problem answer translates into the client's language. Made by `tr`."""

    msgid: str
    params: Mapping[str, Any]

    def __new__(cls, msgid: str, params: Mapping[str, Any]) -> Localized:
        made = super().__new__(cls, msgid % params if params else msgid)
        made.msgid, made.params = msgid, dict(params)
        return made

    def translated(self) -> str:
        return gettext(self.msgid, **self.params)


def tr(msgid: str, **params: Any) -> Localized:
    """Mark a message for translation where it is shown: `raise NotFound(tr("no lot %(lot)s",
    lot=lot))`. Placeholders are %(name)s, as in every catalog of the project."""
    return Localized(msgid, params)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention Babel extracts by name
    """Mark a constant for extraction; it is translated where it is shown."""
    return message
