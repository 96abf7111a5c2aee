"""Stamping a digest the way the ledger's TSA always does: sequenced first, as an
evidence.stamp under the platform's org, then a token whose genTime is that entry's block time
and whose serial is its log index (docs/timestamping.md)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from apps.evidence import state
from apps.evidence.numbers import deposit_number
from apps.evidence.settings import EvidenceSettings
from ledger.core.envelope import parse_ts, sign_envelope
from ledger.core.keys import Signer
from ledger.plugin import Accepted, Ledger, NotFound, TimeStampQuery, timestamp_granted, tr

SETTINGS = EvidenceSettings.from_env()


_SIGNERS: dict[tuple[int, str], Signer] = {}


def _platform_signer(ledger: Ledger, org: str) -> Signer:
    """The platform's key, read from the home once per process (and per ledger served)."""
    key = (id(ledger.node), org)
    if key not in _SIGNERS:
        _SIGNERS[key] = ledger.member_signer(org)
    return _SIGNERS[key]


def block_time(text: str) -> dt.datetime:
    return parse_ts(text)


async def stamp(ledger: Ledger, query: TimeStampQuery, client: str) -> tuple[Accepted, bytes]:
    """Sequence the query's digest as an evidence.stamp under the platform's org, then answer
    the TimeStampResp: genTime is the stamp's block time, the serial its log index."""
    org = SETTINGS.platform
    envelope = sign_envelope(
        _platform_signer(ledger, org),
        type="evidence.stamp",
        org=org,
        body={"algorithm": query.hash_algorithm, "digest": query.digest.hex(), "client": client},
    )
    accepted = await ledger.submit(envelope)
    # A signature: off the event loop, which serves everyone else.
    when = block_time(accepted.block_time)
    tsa = ledger.timestamp_authority
    return accepted, await run_in_threadpool(tsa.reply, query, when, accepted.index)


def deposit_token(ledger: Ledger, conn: Connection, idx: int) -> bytes:
    """The TimeStampResp of registration `idx` (a deposit's SHA-256, or a stamp's digest):
    rebuilt from the ledger on each call, the same bytes every time (deterministic ECDSA)."""
    found = state.registration(conn, idx)
    if found is None:
        raise NotFound(tr("%(number)s is not on this ledger.", number=deposit_number(idx)))
    digest = found.digest if found.kind == "stamp" else found.sha256
    assert digest is not None
    token = ledger.timestamp_authority.token(
        bytes.fromhex(digest), found.algorithm, block_time(found.block_time), idx
    )
    return timestamp_granted(token)
