"""Each case rule and role, refused with its problem code and the ledger unchanged."""

from __future__ import annotations

from sqlalchemy import func, select

from apps.evidence import builders
from apps.evidence.demo import APPRAISER, AUTHOR, CASE, CASE_TITLE, CAUSE, COURT, INFRINGER
from ledger.storage.engine import read_transaction
from ledger.storage.tables import entries
from tests.support.evidence import EvidenceWorld

OTHER_COURT = "bj-internet-court"


def _size(world: EvidenceWorld) -> int:
    with read_transaction(world.node.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(entries)).scalar_one())


def test_only_a_court_opens_a_case(world: EvidenceWorld) -> None:
    before = _size(world)
    record = builders.open_case(CASE, CASE_TITLE, CAUSE, [AUTHOR, INFRINGER])
    world.refused(AUTHOR, record, code="forbidden-role")
    world.refused("evidence-platform", record, code="forbidden-role")
    assert _size(world) == before
    world.ok(COURT, record)
    assert "already open" in world.refused(OTHER_COURT, record)


def test_parties_must_be_registered_parties_and_not_the_court(world: EvidenceWorld) -> None:
    before = _size(world)
    detail = world.refused(COURT, builders.open_case(CASE, "t", "c", [AUTHOR, "au-meatworks"]))
    assert "au-meatworks is not registered as a party" in detail
    assert "not an active member" in world.refused(
        COURT, builders.open_case(CASE, "t", "c", ["nobody"])
    )
    assert _size(world) == before


def test_only_the_cases_parties_submit_to_it(world: EvidenceWorld) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    world.ok(AUTHOR, builders.submit(case, number))
    other = world.deposit("evidence-platform", b"capture")
    before = _size(world)
    world.refused("evidence-platform", builders.submit(case, other), code="forbidden-role")
    assert "already submitted" in world.refused(AUTHOR, builders.submit(case, number))
    assert "is not a deposit" in world.refused(INFRINGER, builders.submit(case, "EV-99999999"))
    assert "never opened" in world.refused(AUTHOR, builders.submit("(2026)京0491民初1号", number))
    assert _size(world) == before


def test_only_the_cases_court_records_custody_and_judgment(world: EvidenceWorld) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    world.ok(AUTHOR, builders.submit(case, number))
    before = _size(world)
    assert "only that court" in world.refused(
        OTHER_COURT, builders.custody(case, "received", number)
    )
    world.refused(AUTHOR, builders.custody(case, "received", number), code="forbidden-role")
    assert "only that court" in world.refused(OTHER_COURT, builders.judgment(case, "j", b"x"))
    assert _size(world) == before
    world.ok(COURT, builders.custody(case, "received", number))


def test_custody_needs_a_submitted_deposit_and_decisions_are_final(world: EvidenceWorld) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    assert "was not submitted" in world.refused(COURT, builders.custody(case, "examined", number))
    world.ok(AUTHOR, builders.submit(case, number))
    world.ok(COURT, builders.custody(case, "admitted", number))
    assert "final" in world.refused(
        COURT, builders.custody(case, "excluded", number, reason="changed my mind")
    )


def test_excluding_needs_a_reason_and_appraisal_an_appraiser(world: EvidenceWorld) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    world.ok(AUTHOR, builders.submit(case, number))
    world.refused(COURT, builders.custody(case, "excluded", number), code="invalid-body")
    world.refused(COURT, builders.custody(case, "appraisal", number), code="invalid-body")
    detail = world.refused(COURT, builders.custody(case, "appraisal", number, appraiser=AUTHOR))
    assert "not an appraisal centre" in detail


def test_the_appraiser_submits_its_report_once_the_court_sent_it_evidence(
    world: EvidenceWorld,
) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    world.ok(AUTHOR, builders.submit(case, number))
    report = world.deposit(APPRAISER, b"report", category="appraisal-report")
    assert "not a party" in world.refused(APPRAISER, builders.submit(case, report))
    world.ok(COURT, builders.custody(case, "appraisal", number, appraiser=APPRAISER))
    world.ok(APPRAISER, builders.submit(case, report))


def test_a_sealed_case_takes_nothing_more(world: EvidenceWorld) -> None:
    case = world.open_case()
    number = world.deposit(AUTHOR, b"chapter")
    world.ok(AUTHOR, builders.submit(case, number))
    world.ok(COURT, builders.judgment(case, "判决书", b"judgment"))
    world.ok(COURT, builders.custody(case, "sealed"))
    late = world.deposit(INFRINGER, b"late")
    before = _size(world)
    for org, record in [
        (INFRINGER, builders.submit(case, late)),
        (COURT, builders.custody(case, "examined", number)),
        (COURT, builders.judgment(case, "again", b"j2")),
        (COURT, builders.custody(case, "sealed")),
    ]:
        assert "sealed" in world.refused(org, record)
    assert _size(world) == before


def test_a_hash_may_be_registered_again_by_anyone(world: EvidenceWorld) -> None:
    first = world.deposit(AUTHOR, b"same bytes")
    second = world.deposit(INFRINGER, b"same bytes")
    assert first < second
