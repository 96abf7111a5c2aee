"""The evidence App: record types, who may write them, the projection, routes, pages, commands."""

from __future__ import annotations

from apps.evidence import member_api, models, public_api, scenario, tsa_api
from apps.evidence.bench import bench_evidence
from apps.evidence.cli import cli
from apps.evidence.pages import pages
from apps.evidence.projection import EvidenceProjection
from apps.evidence.site import SITE
from apps.evidence.tables import metadata, pdfs
from ledger.plugin import App, RecordType

PLATFORM, NOTARY, COURT = "evidence.platform", "evidence.notary", "evidence.court"
PARTY, APPRAISAL = "evidence.party", "evidence.appraisal"
DEPOSITORS = frozenset({PLATFORM, NOTARY, COURT, PARTY, APPRAISAL})

RECORD_TYPES = [
    RecordType(
        "evidence.deposit", models.Deposit, DEPOSITORS, "the hashes of a file and its capture"
    ),
    RecordType("evidence.stamp", models.Stamp, frozenset({PLATFORM}), "a hash stamped by the TSA"),
    RecordType("evidence.case.open", models.OpenCase, frozenset({COURT}), "a court opens a case"),
    RecordType(
        "evidence.submit",
        models.Submit,
        frozenset({PARTY, APPRAISAL}),
        "a party submits a deposit to a case",
    ),
    RecordType("evidence.custody", models.Custody, frozenset({COURT}), "custody of evidence"),
    RecordType("evidence.judgment", models.Judgment, frozenset({COURT}), "the judgment's hash"),
]

APP = App(
    name="evidence",
    record_types=RECORD_TYPES,
    projection=EvidenceProjection(),
    metadata=metadata,
    off_ledger_tables=frozenset({pdfs.name}),
    pages=[pages],
    site=SITE,
    api=[public_api.router, tsa_api.router, member_api.router],
    cli=cli,
    scenario=scenario.run,
    benches={"evidence": bench_evidence},
    body_limits={"/v1/evidence/verify": public_api.MAX_UPLOAD_BYTES},
)
