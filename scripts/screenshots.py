"""Refresh the screenshots in docs/images from a demo home (after `sealchain demo --check`).

    PYTHONPATH=. .venv/bin/python scripts/screenshots.py DEMO_HOME demo-out

Serves the home, opens the scenarios' pages in Chromium and writes docs/images/*.png: beef's
scan pages, and evidence's check page (given the captured page the scenario wrote) and
certificate page.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ledger.process import background_server, free_port, serve_command
from tests.support.browser import change_first_proof_hash, chromium

REPO = Path(__file__).resolve().parents[1]


def main(home: Path, out: Path) -> None:
    urls = json.loads((out / "beef" / "summary.json").read_text())["urls"]
    evidence = json.loads((out / "evidence" / "summary.json").read_text())["urls"]
    port = free_port()
    with background_server(serve_command(home, port), port) as base, chromium() as browser:

        def shoot(label: str, name: str, locale: str = "en-US", tamper: bool = False) -> None:
            url = re.sub(r"^http://[^/]+", base, urls[label])
            context = browser.new_context(
                locale=locale, viewport={"width": 480, "height": 1000}, device_scale_factor=1
            )
            page = context.new_page()
            if tamper:
                page.route(url, change_first_proof_hash)
            page.goto(url)
            if label != "code never registered":
                page.locator("#verdict:not([data-verdict=pending])").wait_for()
            page.screenshot(path=str(REPO / "docs" / "images" / name), full_page=True)
            context.close()

        shoot("pack held by customs", "scan-verified.png")
        shoot("pack held by customs", "scan-verified-zh.png", locale="zh-CN")
        shoot("pack held by customs", "scan-tampered.png", tamper=True)
        shoot("code never registered", "scan-unknown.png")

        urls.update(evidence)
        shoot("certificate of the captured page", "evidence-certificate-zh.png", locale="zh-CN")
        context = browser.new_context(locale="en-US", viewport={"width": 800, "height": 1000})
        page = context.new_page()
        page.goto(base + "/evidence/verify")
        page.locator("#verdict[data-verdict=waiting]").wait_for()
        page.set_input_files("#file", str(out / "evidence" / "site-x-chapter-12.txt"))
        page.locator("#verdict[data-verdict=verified], #verdict[data-verdict=failed]").wait_for()
        page.screenshot(path=str(REPO / "docs" / "images" / "evidence-check.png"), full_page=True)
        context.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
