"""`sealchain scenario tamper`: what an insider editing the database achieves (nothing unseen).

Copies the home, changes one byte of one stored entry in the copy (as a DBA with write access
could), and runs the audit on both: the original passes, the copy fails naming the entry.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from rich.console import Console

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.service.audit import audit
from ledger.service.node import open_node


def run(*, home: Path, out: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    settings = Settings(home=home)
    if settings.database_url:
        raise ConfigError("the tamper story edits a SQLite home; unset SEALCHAIN_DATABASE_URL")
    copy = out / "tampered-home"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(home, copy)
    with sqlite3.connect(copy / "ledger.db") as db:
        size = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        victim = size // 2
        (data,) = db.execute("SELECT data FROM entries WHERE idx = ?", (victim,)).fetchone()
        changed = bytearray(data)
        position = changed.find(b'"body"') + 10
        changed[position] ^= 0x01
        db.execute("UPDATE entries SET data = ? WHERE idx = ?", (bytes(changed), victim))
    console.print(f"Changed byte {position} of entry {victim} in a copy of the database ({copy}).")
    results = {}
    for label, where in (("original", home), ("tampered copy", copy)):
        node = open_node(Settings(home=where), writable=False)
        result = audit(node.engine, node.registry, log_keys=node.log_policy.logs)
        node.close()
        verdict = "ok" if result.ok else f"FAILED at {result.where}: {result.first_bad}"
        console.print(f"audit of the {label}: {verdict}")
        results[label] = {"ok": result.ok, "where": result.where, "detail": result.first_bad}
    return {"entry": victim, "byte": position, "audits": results}
