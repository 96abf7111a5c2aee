"""The explorer page, `/explorer`: the latest block headers, their checkpoints and which witness
cosigned each, whether that makes them final, the trust policy and the members, as the server
states them; and a form whose script checks, in the reader's browser, that the log at one
checkpoint extends the log at another (static/explorer.js).

Headers only: entries and their tx_ids stay members-only (DESIGN 8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from ledger.api.deps import StateDep
from ledger.api.pages.site import LEDGER_SITE
from ledger.core.policy import LogPolicy
from ledger.service import explorer
from ledger.service.bundles import policy_json
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository

router = APIRouter()
PAGE_SIZE = 20  # blocks on one page
MAX_HEIGHT = 2**53


def _height(value: str | None) -> int | None:
    """`?before=` as a height, or None when it is absent; raises ValueError when it is not one."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 16:
        raise ValueError(value)
    height = int(value)
    if height > MAX_HEIGHT:
        raise ValueError(value)
    return height


def _size(value: str | None) -> int | None:
    """A checkpoint size from the query, to fill the form with; anything else is left out."""
    try:
        return _height(value)
    except ValueError:
        return None


@router.get("/explorer", include_in_schema=False, response_class=HTMLResponse)
def explorer_page(request: Request, state: StateDep) -> HTMLResponse:
    query = request.query_params
    try:
        before = _height(query.get("before"))
    except ValueError:
        return LEDGER_SITE.render(request, "explorer.html", {"bad_before": True}, status_code=400)
    policy = state.node.log_policy
    with read_transaction(state.node.engine) as conn:
        listing = explorer.latest_blocks(conn, policy, before=before, limit=PAGE_SIZE)
        latest = Repository(conn).tree_size()
        witnesses = explorer.witnesses(conn, policy)
    members = state.node.read_with_fallback(_members)
    rows = listing.rows
    shown = {row.header.height for row in rows}
    with LEDGER_SITE.speaking(request):
        quorum = describe_quorum(policy)
    context: dict[str, Any] = {
        "bad_before": False,
        "blocks": [_block(row, shown) for row in rows],
        "checkpoints": [_checkpoint(row) for row in rows if row.checkpoint is not None],
        "older": listing.next_before,
        "newer": _newer(before, listing.head),
        "paged": before is not None,
        "latest": latest,
        "first": _size(query.get("first")),
        "second": _size(query.get("second")),
        "logs": [{"name": v.name, "key_id": v.key_id.hex(), "vkey": v.vkey} for v in policy.logs],
        "witnesses": witnesses,
        "quorum": quorum,
        "policy_text": policy.to_text(),
        "members": members,
        "explorer": {"policy": policy_json(policy), "latest": latest},
    }
    return LEDGER_SITE.render(request, "explorer.html", context)


def _newer(before: int | None, head: int | None) -> int | str | None:
    """Where the link to newer blocks goes: a `before` height, "latest", or None (no link)."""
    if before is None or head is None or before > head:
        return None
    return before + PAGE_SIZE if before + PAGE_SIZE <= head else "latest"


def _block(row: explorer.BlockRow, shown: set[int]) -> dict[str, Any]:
    header = row.header
    previous = header.height - 1
    prev_href = None
    if previous >= 0:
        prev_href = (
            f"#block-{previous}"
            if previous in shown
            else f"/explorer?before={header.height}#block-{previous}"
        )
    return {
        "height": header.height,
        "time": header.time,
        "when": datetime.fromisoformat(header.time),
        "count": header.count,
        "size": header.size,
        "root": row.header.to_json()["root"],
        "hash": row.hash,
        "prev": header.prev,
        "prev_href": prev_href,
    }


def _checkpoint(row: explorer.BlockRow) -> dict[str, Any]:
    assert row.checkpoint is not None
    checkpoint = row.checkpoint
    return {
        "size": checkpoint.size,
        "height": row.header.height,
        "final": checkpoint.final,
        "cosigners": [
            {
                "witness": c.witness,
                "when": None if c.time is None else datetime.fromtimestamp(c.time, UTC),
            }
            for c in checkpoint.cosignatures
            if c.verified
        ],
        "uncounted": [c for c in checkpoint.cosignatures if not c.verified],
    }


def _members(conn: Connection) -> list[dict[str, Any]]:
    repo = Repository(conn)
    keys: dict[str, int] = {}
    for key in repo.all_keys():
        if key.revoked_at is None:
            keys[key.org] = keys.get(key.org, 0) + 1
    return [
        {
            "org": m.org,
            "name": m.name,
            "roles": list(m.roles),
            "filing": m.filing,
            "active": m.active,
            "key_count": keys.get(m.org, 0),
        }
        for m in repo.all_members()
    ]


def describe_quorum(policy: LogPolicy, name: str | None = None) -> str:
    """The policy's quorum in words, in the current language (`LEDGER_SITE.speaking`)."""
    name = policy.quorum if name is None else name
    if name == "none":
        return LEDGER_SITE.gettext(
            "none: every checkpoint the log signs is final without cosignatures"
        )
    if name in policy.witnesses:
        return name
    group = policy.groups[name]
    members = ", ".join(describe_quorum(policy, m) for m in group.members)
    return LEDGER_SITE.gettext(
        "%(k)s of %(n)s: %(members)s", k=group.threshold, n=len(group.members), members=members
    )
