"""Data handed to a page's script inside the page, and safe download names."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def script_json(value: Any) -> str:
    """JSON safe inside <script type=application/json>: no '<', '>' or '&' can end the element
    or start a comment, whatever the strings hold."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def attachment(filename: str) -> dict[str, str]:
    """Content-Disposition for a download whose name holds data (a lot, a case number).

    Such names may hold `"` `;` `%` `<` `>`, which inside a quoted filename would end the quote
    and add parameters of the data owner's choosing. So `filename` keeps only [A-Za-z0-9._-]
    and `filename*` (RFC 6266, RFC 8187) carries the exact name percent-encoded.
    """
    safe = UNSAFE_IN_FILENAME.sub("_", filename)
    exact = quote(filename, safe="")
    return {"Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''{exact}"}
