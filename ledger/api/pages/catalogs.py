"""The message catalogs of the ledger and of every app with a site: what text each one's code,
templates and page scripts use (Babel's extractors), and which translations are missing.

    python -m ledger.api.pages.catalogs update   # extract, add new messages to each .po
    python -m ledger.api.pages.catalogs check    # exit 1 listing messages without Chinese

`make messages` runs the first; a test runs the second's function, so a page can never use a
message its catalog lacks. Problem titles are messages too, though no call marks them: they
are class attributes of the error tree, shown in the client's language (problems.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from ledger.api.i18n import DEFAULT, LEDGER_LOCALE_DIR, LOCALES
from ledger.api.pages.site import SHARED, Site
from ledger.errors import LedgerError

PYTHON_KEYWORDS = {"tr": None, "N_": None, "gettext": None}
JS_KEYWORDS = {"t": None, "tn": (1, 2)}
TEMPLATE_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
TRANSLATED = tuple(code for code in LOCALES if code != DEFAULT)


@dataclass(frozen=True)
class Domain:
    """One catalog: `name` (.po file name), where its .po files live, and what it is read from."""

    name: str
    locale_dir: Path
    package: Path  # Python files under it (not its site's static files)
    templates: Path | None
    scripts: Path | None  # the _js domain reads these

    def messages(self) -> dict[str | tuple[str, str], set[str]]:
        """msgid (or (singular, plural)) -> where it is used."""
        found: dict[str | tuple[str, str], set[str]] = {}
        if self.scripts is not None:
            self._extract(found, self.scripts, [("*.js", "javascript")], JS_KEYWORDS)
        else:
            self._extract(found, self.package, [("**.py", "python")], PYTHON_KEYWORDS)
            if self.templates is not None:
                method = [("**.html", "jinja2")]
                self._extract(found, self.templates, method, TEMPLATE_KEYWORDS)
            if self.package == SHARED.parents[1]:  # the ledger's own catalog
                for title in _problem_titles():
                    found.setdefault(title, set()).add("ledger/errors.py")
        return found

    @staticmethod
    def _extract(
        found: dict[str | tuple[str, str], set[str]],
        directory: Path,
        methods: list[tuple[str, str]],
        keywords: Mapping[str, object],
    ) -> None:
        options = {
            pattern: {"extensions": "jinja2.ext.i18n"} for pattern, m in methods if m == "jinja2"
        }
        for filename, _line, message, _comments, _context in extract_from_dir(
            str(directory),
            methods,
            options,
            keywords=keywords,  # type: ignore[arg-type]
        ):
            key = message if isinstance(message, str) else (message[0], message[1])
            found.setdefault(key, set()).add(str(directory / filename))

    def po_path(self, locale: str) -> Path:
        return self.locale_dir / locale / "LC_MESSAGES" / f"{self.name}.po"

    def missing(self, locale: str) -> list[str]:
        """Messages the code uses that the locale's catalog does not translate."""
        translated: dict[str, bool] = {}
        if self.po_path(locale).exists():
            with self.po_path(locale).open("rb") as f:
                for message in read_po(f, locale=locale):
                    if not message.id:
                        continue
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    strings = (
                        message.string if isinstance(message.string, tuple) else (message.string,)
                    )
                    translated[key] = not message.fuzzy and all(strings)
        return sorted(
            msgid if isinstance(msgid, str) else msgid[0]
            for msgid in self.messages()
            if not translated.get(msgid if isinstance(msgid, str) else msgid[0], False)
        )

    def update(self, locale: str) -> tuple[int, int]:
        """Add new messages to the locale's .po (kept translations stay); (messages, missing)."""
        template = Catalog(locale=locale, project="Sealchain", domain=self.name)
        for msgid, places in sorted(self.messages().items(), key=lambda item: str(item[0])):
            template.add(msgid, locations=[(p, 0) for p in sorted(places)][:1])
        path = self.po_path(locale)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=locale)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(
                locale=locale,
                domain=self.name,
                project="Sealchain",
                version="1",
                language_team="Sealchain engineers",
                fuzzy=False,
            )
            for message in template:
                if message.id:
                    catalog.add(message.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(
                f, catalog, width=100, no_location=True, sort_output=True, ignore_obsolete=True
            )
        return len(template), len(self.missing(locale))


def _problem_titles() -> Iterator[str]:
    from ledger.api.problems import HTTP_PROBLEMS

    stack: list[type[LedgerError]] = [LedgerError]
    while stack:
        error = stack.pop()
        if error.__module__.startswith("ledger."):  # an app's own errors are its to translate
            yield error.title
        stack.extend(error.__subclasses__())
    yield from (title for _, title in HTTP_PROBLEMS.values())
    yield "Internal error"


def domains(sites: Iterable[Site]) -> list[Domain]:
    """The ledger's catalogs and those of each site's app (the package around its site)."""
    ledger_package = SHARED.parents[1]
    found = [
        Domain("ledger", LEDGER_LOCALE_DIR, ledger_package, SHARED / "templates", None),
        Domain("ledger_js", LEDGER_LOCALE_DIR, ledger_package, None, SHARED / "static"),
    ]
    for site in sites:
        package, locale_dir = site.root.parent, site.root / "locale"
        found.append(Domain(site.name, locale_dir, package, site.root / "templates", None))
        found.append(Domain(f"{site.name}_js", locale_dir, package, None, site.root / "static"))
    return found


def installed_sites() -> list[Site]:
    from ledger.service.app import discover_apps

    return [app.site for app in discover_apps() if app.site is not None]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    every = domains(installed_sites())
    if command == "update":
        for domain in every:
            for locale in TRANSLATED:
                total, missing = domain.update(locale)
                print(f"{domain.po_path(locale)}: {total} messages, {missing} untranslated")
        return 0
    if command == "check":
        gaps = [(d, loc, m) for d in every for loc in TRANSLATED for m in d.missing(loc)]
        for domain, locale, msgid in gaps:
            print(f"{domain.po_path(locale)}: no translation of {msgid!r}")
        return 1 if gaps else 0
    print("usage: python -m ledger.api.pages.catalogs update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
