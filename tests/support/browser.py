"""Headless Debian Chromium driven by Playwright (the machine's /usr/bin/chromium)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

CHROMIUM = os.environ.get("SEALCHAIN_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def change_first_proof_hash(route: Route) -> None:
    """A Playwright route handler: the page as served, with one base64 character of the first
    inclusion-proof hash in its embedded proof data changed."""
    html = route.fetch().text()
    found = re.search(r'"proof":\["([A-Za-z0-9+/])', html)
    assert found is not None, "the page embeds no proof"
    swap = "B" if found.group(1) != "B" else "C"
    html = html[: found.start(1)] + swap + html[found.end(1) :]
    route.fulfill(body=html, content_type="text/html; charset=utf-8")
