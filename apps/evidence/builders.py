"""Record bodies of the evidence app, built where the file is: only hashes leave the machine.

Used by the CLI, the scenario, the benchmark and the tests, so each writes bodies one way.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from apps.evidence.similarity import NotAText, text_code

TEXT_TYPES = ("text/plain", "text/markdown", "text/html")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_code_of(data: bytes, media_type: str) -> str | None:
    """The ISCC Text-Code of a text work, or None for other files and texts too short."""
    if media_type.split(";")[0] not in TEXT_TYPES:
        return None
    try:
        return text_code(data.decode("utf-8"))
    except (UnicodeDecodeError, NotAText):
        return None


def deposit(
    data: bytes,
    *,
    title: str,
    media_type: str,
    category: str = "evidence",
    method: str = "file",
    tool: str = "sealchain-cli",
    operator: str,
    source_url: str | None = None,
    captured_at: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """An evidence.deposit record of `data`: its hashes, size, text code and capture facts."""
    capture: dict[str, Any] = {
        "method": method,
        "capturedAt": captured_at or now(),
        "tool": tool,
        "operator": operator,
    }
    if source_url is not None:
        capture["sourceUrl"] = source_url
    body: dict[str, Any] = {
        "title": title,
        "category": category,
        "mediaType": media_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha3_256": hashlib.sha3_256(data).hexdigest(),
        "capture": capture,
    }
    code = text_code_of(data, media_type)
    if code is not None:
        body["iscc"] = code
    return "evidence.deposit", body


def open_case(case: str, title: str, cause: str, parties: list[str]) -> tuple[str, dict[str, Any]]:
    return "evidence.case.open", {"case": case, "title": title, "cause": cause, "parties": parties}


def submit(case: str, number: str, note: str | None = None) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"case": case, "deposit": number}
    if note is not None:
        body["note"] = note
    return "evidence.submit", body


def custody(
    case: str,
    event: str,
    number: str | None = None,
    *,
    reason: str | None = None,
    appraiser: str | None = None,
) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"case": case, "event": event}
    for key, value in (("deposit", number), ("reason", reason), ("appraiser", appraiser)):
        if value is not None:
            body[key] = value
    return "evidence.custody", body


def judgment(case: str, title: str, document: bytes) -> tuple[str, dict[str, Any]]:
    sha = hashlib.sha256(document).hexdigest()
    return "evidence.judgment", {"case": case, "title": title, "sha256": sha}
