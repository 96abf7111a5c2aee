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
    world.refused("pos-maker", builders.issue(signed), code="forbidden-role")


def test_a_body_outside_its_scope_or_accreditation_dates_is_refused(world: CertsWorld) -> None:
    before = _size(world)
    detail = world.refused("bctc", builders.issue(world.credential("bctc")))
    assert "not accredited for pos" in detail
    late = world.credential(
        "nfcc",
        valid_from=date(2030, 1, 1),
        valid_until=date(2032, 1, 1),
        number="PBOC-POS-2030-0001",
    )
    assert "not accredited for pos on 2030-01-01" in world.refused("nfcc", builders.issue(late))
    assert _size(world) == before
    world.certify("bctc", product_type="barcode-terminal", number="PBOC-QR-2019-0001",
                  manufacturer="qr-terminal-maker")  # fmt: skip


def test_the_credential_must_be_the_signers_and_well_formed(world: CertsWorld) -> None:
    by_other = world.credential("bctc")  # signed with bctc's key...
    by_other["credentialSubject"]["certificationBody"] = "nfcc"  # ...claiming nfcc: proof breaks
    assert "does not hold" in world.refused("nfcc", builders.issue(by_other))
    signed_by_bctc = world.credential("bctc")
    assert "not signed by the key" in world.refused("nfcc", builders.issue(signed_by_bctc))
    forged = copy.deepcopy(world.credential("nfcc"))
    forged["credentialSubject"]["model"] = "SP-999"
    assert "does not verify" in world.refused("nfcc", builders.issue(forged))
    long = world.credential("nfcc", valid_until=date(2023, 1, 1))
    assert "at most 3 years" in world.refused("nfcc", builders.issue(long))
    wrong_catalog = world.credential("nfcc", product_type="blockchain", catalog="2019")
    assert "not in the 2019 catalog" in world.refused("nfcc", builders.issue(wrong_catalog))


def test_numbers_and_status_indexes_are_used_once(world: CertsWorld) -> None:
    world.certify()
    again = world.credential(status_index=50)
    assert "already exists" in world.refused("nfcc", builders.issue(again))
    same_index = world.credential(number="PBOC-POS-2019-0002", status_index=0)
    assert "status index 0" in world.refused("nfcc", builders.issue(same_index))


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
    world.ok("nfcc", builders.issue(renewal))
    with read_transaction(world.node.engine) as conn:
        found = state.certificate(conn, "PBOC-POS-2022-0001")
    assert found is not None and found.previous == old and found.catalog == "2022"
    other = world.credential(number="PBOC-ATM-2022-0001", product_type="atm", previous=old)
    assert "same manufacturer and product type" in world.refused("nfcc", builders.issue(other))
