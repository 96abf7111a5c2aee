"""ledger/api/pages/static/verify.js in headless Chromium, without a server.

A made-up HTTPS origin (a secure context, so WebCrypto is there) is served with `page.route`: a
blank page, and every file of ledger/api/pages/static by name at /static/ledger/<name> (verify.js
and the modules it imports), all under the Content-Security-Policy pages get in production, so a
verifier that needed eval or inline code would fail here too. Test code runs as the body of an
async function that has the module as `v` and its argument as `arg`; arguments go in and results
come out as JSON text, which carries what Playwright's own serialisation would bend (lone
surrogates, integers past 2^53, -0).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route

STATIC = Path(__file__).resolve().parents[2] / "ledger" / "api" / "pages" / "static"
VERIFY_JS = STATIC / "verify.js"
ORIGIN = "https://verifier.test"
STATIC_PREFIX = "/static/ledger/"
MODULE_PATH = STATIC_PREFIX + "verify.js"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
CSP = "default-src 'none'; script-src 'self'"
BLANK_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>verify.js</title></head>'
    '<body><p id="verdict" class="verdict" data-verdict="pending"></p></body></html>'
)

# Helpers every test body can use: bytes from hex, and a case's outcome as JSON-friendly data.
PRELUDE = """
const fromHex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
const outcome = async (work) => {
  try {
    const value = await work();
    return ["ok", value === undefined ? null : value];
  } catch (err) {
    if (err instanceof v.VerifyError) return ["error", err.step, err.message];
    return ["crash", String(err && err.stack || err)];
  }
};
"""


class JSVerifier:
    """Runs test code against verify.js in one page; `errors` collects the page's own errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )

    def run(self, body: str, arg: Any = None) -> Any:
        """Evaluate `body` (statements ending in `return`) with `v` the module and `arg` the
        argument; returns what the body returned, through JSON."""
        script = (
            "async (argText) => {\n"
            f"  const v = await import({json.dumps(MODULE_PATH)});\n"
            "  const arg = JSON.parse(argText);\n"
            f"{PRELUDE}\n"
            "  const result = await (async () => {\n"
            f"{body}\n"
            "  })();\n"
            "  return JSON.stringify(result);\n"
            "}"
        )
        text = self.page.evaluate(script, json.dumps(arg))
        return json.loads(text)


def static_file(path: str) -> Path | None:
    """The file of ledger/api/pages/static that `path` (/static/ledger/<name>) names, if any."""
    if not path.startswith(STATIC_PREFIX):
        return None
    name = path.removeprefix(STATIC_PREFIX)
    # Only a plain name listed in the folder: no subfolder, no "..", nothing outside it.
    files = {file.name: file for file in STATIC.iterdir() if file.is_file()}
    return files.get(name)


def _serve(route: Route) -> None:
    path = urlsplit(route.request.url).path
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    if (file := static_file(path)) is not None:
        route.fulfill(
            body=file.read_bytes(),
            content_type=CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
            headers=headers,
        )
    elif path == "/":
        route.fulfill(body=BLANK_PAGE, content_type="text/html; charset=utf-8", headers=headers)
    else:
        route.fulfill(status=404, body="not found", headers=headers)


@contextmanager
def js_verifier(browser: Browser) -> Iterator[JSVerifier]:
    """A fresh context with verify.js loadable at /static/ledger/verify.js, and the modules it
    imports beside it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        verifier = JSVerifier(page)
        page.route(f"{ORIGIN}/**", _serve)
        page.goto(f"{ORIGIN}/")
        yield verifier
    finally:
        context.close()
