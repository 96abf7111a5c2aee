"""A whole case audits clean, its projection equals a replay, and reindex rebuilds it."""

from __future__ import annotations

from sqlalchemy import update

from apps.evidence import builders, state
from apps.evidence.demo import (
    APPRAISER,
    AUTHOR,
    CHAPTER,
    COURT,
    PLATFORM,
    infringing_copy,
)
from apps.evidence.numbers import deposit_index
from apps.evidence.tables import DERIVED, custody
from ledger.service.audit import audit
from ledger.service.projection_audit import check_projections
from ledger.service.reindex import reindex
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository
from tests.support.evidence import EvidenceWorld


def dump(world: EvidenceWorld) -> dict[str, list[tuple[object, ...]]]:
    with read_transaction(world.node.engine) as conn:
        repo = Repository(conn)
        return {table.name: repo.dump(table) for table in DERIVED}


def tell_the_story(world: EvidenceWorld) -> dict[str, str]:
    chapter = world.deposit(
        AUTHOR,
        CHAPTER.encode(),
        title="第十二章 雨夜渡口",
        media_type="text/plain",
        category="work",
    )
    capture = world.deposit(
        PLATFORM,
        infringing_copy().encode(),
        title="site-x chapter 12",
        media_type="text/plain",
        method="web-page",
        source_url="https://site-x.example/novel/chapter-12.html",
    )
    case = world.open_case()
    world.ok(AUTHOR, builders.submit(case, chapter))
    world.ok(AUTHOR, builders.submit(case, capture, "the platform's capture of the copy"))
    world.ok(COURT, builders.custody(case, "received", chapter))
    world.ok(COURT, builders.custody(case, "appraisal", capture, appraiser=APPRAISER))
    report = world.deposit(APPRAISER, b"report", category="appraisal-report")
    world.ok(APPRAISER, builders.submit(case, report))
    world.ok(COURT, builders.custody(case, "admitted", chapter))
    world.ok(COURT, builders.custody(case, "admitted", capture))
    world.ok(COURT, builders.judgment(case, "判决书", b"judgment text"))
    world.ok(COURT, builders.custody(case, "sealed"))
    return {"chapter": chapter, "capture": capture, "report": report, "case": case}


def test_a_whole_case_audits_and_reindexes_identically(world: EvidenceWorld) -> None:
    told = tell_the_story(world)
    world.ok(
        PLATFORM,
        ("evidence.stamp", {"algorithm": "sha512", "digest": "ab" * 64, "client": "0" * 16}),
    )
    assert audit(world.node.engine, world.node.registry).ok
    assert check_projections(world.node.engine, world.node.registry).ok
    live = dump(world)
    assert all(live.values()), "every derived evidence table has rows"
    with read_transaction(world.node.engine) as conn:
        case = state.case(conn, told["case"])
        assert case is not None and case.sealed_idx is not None and case.judgment_idx is not None
        assert [e.event for e in state.case_events(conn, told["case"])] == [
            "submitted", "submitted", "received", "appraisal", "submitted", "admitted",
            "admitted", "judgment", "sealed",
        ]  # fmt: skip
    with write_transaction(world.node.engine) as conn:  # a DBA rewrites a custody event
        conn.execute(update(custody).where(custody.c.event == "admitted").values(event="excluded"))
    check = check_projections(world.node.engine, world.node.registry)
    assert not check.ok and "evidence_custody" in check.first_bad
    assert reindex(world.node.engine, world.node.registry) > 0
    assert dump(world) == live
    assert deposit_index(told["chapter"]) is not None
