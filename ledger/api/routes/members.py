"""Who may write: the membership as the ledger's governance entries define it (public)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection

from ledger.api.deps import StateDep
from ledger.api.models import MemberKeyView, MemberView
from ledger.service.node import member_directory
from ledger.storage.repository import Repository

router = APIRouter(prefix="/v1", tags=["members"])


@router.get(
    "/members",
    response_model=list[MemberView],
    summary="Members, roles and keys (with revocation indexes)",
    description="`Accept: text/plain` answers members.txt (`<org> <vkey> [revoked-at-index]`).",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def list_members(request: Request, state: StateDep) -> Response:
    # From the standby when there is one: a lagging standby lists the membership as it was a
    # moment ago, as any cached copy of members.txt would. Authentication never reads it there
    # (deps.signed_member): a revocation applies at once.
    if "text/plain" in request.headers.get("accept", ""):
        text = state.node.read_with_fallback(lambda conn: member_directory(conn).to_text())
        return PlainTextResponse(text)
    views = state.node.read_with_fallback(_member_views)
    body = "[" + ",".join(v.model_dump_json() for v in views) + "]"
    return Response(body, media_type="application/json")


def _member_views(conn: Connection) -> list[MemberView]:
    repo = Repository(conn)
    keys = repo.all_keys()
    return [
        MemberView(
            org=m.org,
            name=m.name,
            roles=list(m.roles),
            filing=m.filing,
            active=m.active,
            added_at=m.added_at,
            keys=[
                MemberKeyView(
                    key_id=k.key_id, vkey=k.vkey, added_at=k.added_at, revoked_at=k.revoked_at
                )
                for k in keys
                if k.org == m.org
            ],
        )
        for m in repo.all_members()
    ]
