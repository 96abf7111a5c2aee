"""The certs app's templates, static files and message catalogs for the shared page layer."""

from __future__ import annotations

from pathlib import Path

from ledger.plugin import Site

SITE = Site("certs", Path(__file__).with_name("site"))
