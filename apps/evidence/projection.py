"""The evidence projection: registrations by hash and text code, cases, submissions and custody,
written in the block's transaction and rebuilt identically by `sealchain reindex`."""

from __future__ import annotations

import json

from sqlalchemy import Connection, delete, insert, update

from apps.evidence import rules
from apps.evidence.models import Custody, Deposit, Judgment, OpenCase, Stamp, Submit
from apps.evidence.numbers import deposit_index
from apps.evidence.similarity import code_bits
from apps.evidence.tables import DERIVED, case_deposits, cases, custody, deposits
from ledger.plugin import SequencedEntry, insert_rows

# A deposit is the hot path (a batch of a thousand is a thousand of these): its row goes to the
# driver (`insert_rows`), since SQLAlchemy's statement took three times the database's insert.
REGISTRATION_COLUMNS = tuple(c.name for c in deposits.columns)


def _registration(entry: SequencedEntry, body: Deposit | Stamp) -> tuple[object, ...]:
    """A deposit's or a stamp's row of evidence_deposits, in the table's column order."""
    head = (entry.index, entry.envelope.tx_id, entry.envelope.org)
    tail = (entry.block_height, entry.block_time)
    if isinstance(body, Deposit):
        bits = None if body.iscc is None else code_bits(body.iscc)
        about = (body.title, body.category, body.size, body.iscc, bits)
        return (*head, "deposit", body.sha256, body.sha3_256, None, "sha256", *about, *tail)
    sha256 = body.digest if body.algorithm == "sha256" else None
    sha3_256 = body.digest if body.algorithm == "sha3-256" else None
    return (*head, "stamp", sha256, sha3_256, body.digest, body.algorithm, *[None] * 5, *tail)


class EvidenceProjection:
    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        rules.check(conn, entry)

    def clear(self, conn: Connection) -> None:
        for table in DERIVED:
            conn.execute(delete(table))

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        body, env, idx = entry.body, entry.envelope, entry.index
        if isinstance(body, Deposit | Stamp):
            insert_rows(conn, deposits, REGISTRATION_COLUMNS, [_registration(entry, body)])
        elif isinstance(body, OpenCase):
            conn.execute(
                insert(cases).values(
                    case_no=body.case,
                    court=env.org,
                    title=body.title,
                    cause=body.cause,
                    parties=json.dumps(body.parties),
                    opened_idx=idx,
                )
            )
        else:
            self._apply_case_event(conn, entry)

    def _apply_case_event(self, conn: Connection, entry: SequencedEntry) -> None:
        body, env, idx = entry.body, entry.envelope, entry.index
        event, deposit, detail = "", None, None
        if isinstance(body, Submit):
            event, deposit, detail = "submitted", deposit_index(body.deposit), body.note
            conn.execute(
                insert(case_deposits).values(
                    case_no=body.case, deposit_idx=deposit, org=env.org, idx=idx
                )
            )
        elif isinstance(body, Custody):
            event, deposit = body.event, deposit_index(body.deposit) if body.deposit else None
            detail = body.reason or body.appraiser
            self._apply_custody(conn, body, idx)
        elif isinstance(body, Judgment):
            event, detail = "judgment", body.sha256
            conn.execute(update(cases).where(cases.c.case_no == body.case).values(judgment_idx=idx))
        else:
            return
        conn.execute(
            insert(custody).values(
                idx=idx,
                case_no=body.case,
                record_type=env.type,
                org=env.org,
                event=event,
                deposit_idx=deposit,
                detail=detail,
                block_time=entry.block_time,
            )
        )

    @staticmethod
    def _apply_custody(conn: Connection, body: Custody, idx: int) -> None:
        if body.event == "sealed":
            conn.execute(update(cases).where(cases.c.case_no == body.case).values(sealed_idx=idx))
            return
        this = (case_deposits.c.case_no == body.case) & (
            case_deposits.c.deposit_idx == deposit_index(body.deposit or "")
        )
        if body.event in ("admitted", "excluded"):
            conn.execute(update(case_deposits).where(this).values(decided_idx=idx))
        elif body.event == "appraisal":
            conn.execute(update(case_deposits).where(this).values(appraiser=body.appraiser))
