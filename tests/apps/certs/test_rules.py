"""Every certification rule and transition, refused with its reason and the ledger unchanged."""

from __future__ import annotations

import copy
from datetime import date

from sqlalchemy import func, select

from apps.certs import builders, state
from ledger.storage.engine import read_transaction
from ledger.storage.tables import entries
from tests.support.certs import CertsWorld


def _size(world: CertsWorld) -> int:
    with read_transaction(world.node.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(entries)).scalar_one())


def test_only_the_authority_accredits_and_only_bodies_issue(world: CertsWorld) -> None:
    record = builders.accredit("bctc", ["pos"], date(2019, 1, 1), date(2020, 1, 1))
    world.refused("nfcc", record, code="forbidden-role")
    signed = world.credential("nfcc")
    world.refused("pos-maker", world.issue(signed), code="forbidden-role")


def test_a_body_outside_its_scope_or_accreditation_dates_is_refused(world: CertsWorld) -> None:
    out_of_scope = world.issue(world.credential("bctc"))
    late = world.issue(
        world.credential(
            "nfcc",
            valid_from=date(2030, 1, 1),
            valid_until=date(2032, 1, 1),
            number="PBOC-POS-2030-0001",
        )
    )
    before = _size(world)
    assert "not accredited for pos" in world.refused("bctc", out_of_scope)
    assert "not accredited for pos on 2030-01-01" in world.refused("nfcc", late)
    assert _size(world) == before
    world.certify("bctc", product_type="barcode-terminal", number="PBOC-QR-2019-0001",
                  manufacturer="qr-terminal-maker")  # fmt: skip


def test_the_credential_must_be_the_signers_and_well_formed(world: CertsWorld) -> None:
    by_other = world.credential("bctc")  # signed with bctc's key...
    by_other["credentialSubject"]["certificationBody"] = "nfcc"  # ...claiming nfcc: proof breaks
    assert "does not hold" in world.refused("nfcc", world.issue(by_other))
    signed_by_bctc = world.credential("bctc")
    assert "not signed by the key" in world.refused("nfcc", world.issue(signed_by_bctc))
    forged = copy.deepcopy(world.credential("nfcc"))
    forged["credentialSubject"]["model"] = "SP-999"
    assert "does not verify" in world.refused("nfcc", world.issue(forged))
    long = world.credential("nfcc", valid_until=date(2023, 1, 1))
    assert "at most 3 years" in world.refused("nfcc", world.issue(long))
    wrong_catalog = world.credential("nfcc", product_type="blockchain", catalog="2019")
    assert "not in the 2019 catalog" in world.refused("nfcc", world.issue(wrong_catalog))


def test_numbers_and_status_indexes_are_used_once(world: CertsWorld) -> None:
    world.certify()
    again = world.credential(status_index=50)
    assert "already exists" in world.refused("nfcc", world.issue(again))
    same_index = world.credential(number="PBOC-POS-2019-0002", status_index=0)
    assert "status index 0" in world.refused("nfcc", world.issue(same_index))


def test_only_the_issuing_body_changes_status_and_revoked_is_final(world: CertsWorld) -> None:
    number = world.certify()
    record = builders.suspend(number, date(2020, 1, 1), "surveillance failed")
    world.refused("bctc", record)
    world.ok("nfcc", record)
    assert "already suspended" in world.refused(
        "nfcc", builders.suspend(number, date(2020, 2, 1), "x")
    )
    world.ok("nfcc", builders.reinstate(number, date(2020, 3, 1)))
    assert "not suspended" in world.refused("nfcc", builders.reinstate(number, date(2020, 4, 1)))
    assert "before the certificate's last event" in world.refused(
        "nfcc", builders.surveil(number, date(2020, 2, 1), "pass")
    )
    world.ok("nfcc", builders.revoke(number, date(2020, 5, 1), "fraud"))
    before = _size(world)
    for record in (
        builders.reinstate(number, date(2020, 6, 1)),
        builders.surveil(number, date(2020, 6, 1), "pass"),
        builders.revoke(number, date(2020, 6, 1), "again"),
    ):
        assert "revocation is final" in world.refused("nfcc", record)
    assert _size(world) == before


def test_a_renewal_links_to_a_live_certificate_of_the_same_product(world: CertsWorld) -> None:
    old = world.certify()
    renewal = world.credential(
        number="PBOC-POS-2022-0001", catalog="2022", previous=old,
        valid_from=date(2022, 11, 1), valid_until=date(2024, 12, 31),
    )  # fmt: skip
    world.ok("nfcc", world.issue(renewal))
    with read_transaction(world.node.engine) as conn:
        found = state.certificate(conn, "PBOC-POS-2022-0001")
    assert found is not None and found.previous == old and found.catalog == "2022"
    other = world.credential(number="PBOC-ATM-2022-0001", product_type="atm", previous=old)
    assert "same manufacturer and product type" in world.refused("nfcc", world.issue(other))


def test_a_certificate_answers_an_application_with_a_passing_lab_report(world: CertsWorld) -> None:
    signed = world.credential(number="PBOC-POS-2019-0007")
    applied = builders.application_for("APP-7", date(2019, 9, 1), signed)
    # Only a manufacturer applies, to a certification body, for a product of the catalog.
    world.refused("lab-one", applied, code="forbidden-role")
    to_a_lab = builders.application_for("APP-7", date(2019, 9, 1), signed)
    to_a_lab[1]["body"] = "lab-one"
    assert "not a certification body" in world.refused("pos-maker", to_a_lab)
    blockchain_2019 = builders.apply(
        "APP-8", date(2019, 9, 1), "nfcc", product_type="blockchain", catalog="2019",
        product_name="Chain", model="C1", version="1",
    )  # fmt: skip
    world.refused("pos-maker", blockchain_2019, code="invalid-body")
    world.ok("pos-maker", applied)
    assert "already exists" in world.refused("pos-maker", applied)
    # No report yet, then a failed one: not certifiable.
    assert "no lab report" in world.refused("nfcc", builders.issue(signed, "APP-7"))
    report = "ab" * 32
    early = builders.lab_report("APP-7", date(2019, 8, 31), "pass", report, "Early")
    assert "before the application" in world.refused("lab-one", early)
    world.refused("nfcc", builders.lab_report("APP-7", date(2019, 10, 1), "pass", report, "x"),
                  code="forbidden-role")  # fmt: skip
    world.ok("lab-one", builders.lab_report("APP-7", date(2019, 10, 1), "fail", report, "First"))
    assert "is a fail" in world.refused("nfcc", builders.issue(signed, "APP-7"))
    # A retest after the first day of validity does not count for this certificate.
    late_pass = builders.lab_report("APP-7", date(2019, 11, 20), "pass", report, "Late retest")
    world.ok("bctc", late_pass)
    assert "is a fail" in world.refused("nfcc", builders.issue(signed, "APP-7"))
    # An application for another product does not certify this one.
    other = world.credential(number="PBOC-POS-2019-0008", model="SP-200")
    assert "not for this product" in world.refused("nfcc", builders.issue(other, "APP-7"))
    unknown = builders.issue(signed, "APP-404")
    assert "APP-404 does not exist" in world.refused("nfcc", unknown)


def test_an_application_is_certified_once_and_then_takes_no_report(world: CertsWorld) -> None:
    signed = world.credential(number="PBOC-POS-2019-0009")
    world.ok("pos-maker", builders.application_for("APP-9", date(2019, 9, 1), signed))
    good = builders.lab_report("APP-9", date(2019, 10, 1), "pass", "cd" * 32, "Report")
    world.ok("lab-one", good)
    world.ok("nfcc", builders.issue(signed, "APP-9"))
    with read_transaction(world.node.engine) as conn:
        cert = state.certificate(conn, "PBOC-POS-2019-0009")
        reports = state.lab_reports_of(conn, "APP-9")
    assert cert is not None and cert.application == "APP-9"
    assert [(r.lab, r.result, r.sha256) for r in reports] == [("lab-one", "pass", "cd" * 32)]
    again = world.credential(number="PBOC-POS-2019-0010")
    assert "already certified (PBOC-POS-2019-0009)" in world.refused(
        "nfcc", builders.issue(again, "APP-9")
    )
    assert "already certified" in world.refused("lab-one", good)


def test_a_change_of_model_is_recorded_by_the_issuing_body(world: CertsWorld) -> None:
    number = world.certify()
    change = builders.change(number, date(2020, 6, 1), "new casing", model="SP-100b")
    world.refused("bctc", change)
    world.refused("pos-maker", change, code="forbidden-role")
    nothing = builders.change(number, date(2020, 6, 1), "nothing")
    world.refused("nfcc", nothing, code="invalid-body")
    world.ok("nfcc", change)
    with read_transaction(world.node.engine) as conn:
        cert = state.certificate(conn, number)
        found = [c.number for c in state.search(conn, "SP-100b")]
        kinds = [e.kind for e in state.history(conn, number)]
    assert cert is not None and (cert.model, cert.version) == ("SP-100b", "1.0")
    assert found == [number] and kinds == ["change"]
    late = builders.change(number, date(2023, 1, 1), "after expiry", version="2.0")
    assert "outside the certificate's validity" in world.refused("nfcc", late)
    world.ok("nfcc", builders.revoke(number, date(2020, 7, 1), "fraud"))
    after = builders.change(number, date(2020, 8, 1), "too late", version="2.0")
    assert "revocation is final" in world.refused("nfcc", after)
