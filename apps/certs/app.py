"""The certs App: record types, who may write them, the projection, routes, commands."""

from __future__ import annotations

from apps.certs import models, public_api, scenario
from apps.certs.bench import bench_certs
from apps.certs.cli import cli
from apps.certs.lookup_pages import lookup_pages
from apps.certs.pages import pages
from apps.certs.projection import CertsProjection
from apps.certs.site import SITE
from apps.certs.tables import metadata
from ledger.plugin import App, RecordType

AUTHORITY, BODY, LAB, MANUFACTURER = (
    "certs.authority",
    "certs.body",
    "certs.lab",
    "certs.manufacturer",
)


def _roles(*names: str) -> frozenset[str]:
    return frozenset(names)


RECORD_TYPES = [
    RecordType(
        "certs.accredit", models.Accredit, _roles(AUTHORITY), "accredit a certification body"
    ),
    RecordType(
        "certs.apply", models.Apply, _roles(MANUFACTURER), "apply to a body for a certificate"
    ),
    RecordType(
        "certs.lab-report", models.LabReport, _roles(LAB), "a test result and its report's hash"
    ),
    RecordType("certs.issue", models.Issue, _roles(BODY), "a certificate, as a signed credential"),
    RecordType("certs.surveil", models.Surveil, _roles(BODY), "a surveillance result"),
    RecordType("certs.suspend", models.Suspend, _roles(BODY), "suspend a certificate"),
    RecordType("certs.reinstate", models.Reinstate, _roles(BODY), "reinstate a certificate"),
    RecordType("certs.revoke", models.Revoke, _roles(BODY), "revoke a certificate, for good"),
    RecordType("certs.change", models.Change, _roles(BODY), "a change of model or version"),
]

APP = App(
    name="certs",
    record_types=RECORD_TYPES,
    projection=CertsProjection(),
    metadata=metadata,
    api=[public_api.router],
    pages=[lookup_pages, pages],  # /certs/search and /certs/bulk before /certs/{number}
    site=SITE,
    cli=cli,
    scenario=scenario.run,
    benches={"certs": bench_certs},
    body_limits={"/v1/certs/bulk/verify.csv": public_api.MAX_CSV_BYTES},
)
