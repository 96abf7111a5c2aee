"""The beef App: record types, who may write them, the projection, routes, pages, commands."""

from __future__ import annotations

from apps.beef import member_api, models, public_api, scenario
from apps.beef.bench import bench_beef
from apps.beef.cli import scan_command
from apps.beef.pages import SITE, pages
from apps.beef.projection import BeefProjection
from apps.beef.rules import RECEIVING_ROLES
from apps.beef.tables import metadata, scan_sources
from ledger.plugin import App, RecordType

PROCESSOR, EXPORTER, CARRIER = "beef.processor", "beef.exporter", "beef.carrier"
CUSTOMS, IMPORTER, RETAILER, REGULATOR = (
    "beef.customs",
    "beef.importer",
    "beef.retailer",
    "beef.regulator",
)
CHAIN = frozenset({PROCESSOR, EXPORTER, CARRIER, CUSTOMS, IMPORTER, RETAILER, REGULATOR})


def _roles(*names: str) -> frozenset[str]:
    return frozenset(names)


RECORD_TYPES = [
    RecordType("beef.commission", models.Commission, _roles(PROCESSOR), "packs of a lot are made"),
    RecordType(
        "beef.lot",
        models.LotCommitment,
        _roles(PROCESSOR),
        "a commissioning restated with its packs as a Merkle root, for short scans",
    ),
    RecordType(
        "beef.aggregate",
        models.Pack,
        _roles(PROCESSOR, EXPORTER, IMPORTER, RETAILER),
        "packs into cartons, cartons into containers",
    ),
    RecordType(
        "beef.disaggregate",
        models.Unpack,
        _roles(PROCESSOR, EXPORTER, IMPORTER, RETAILER),
        "take children out of a carton or container",
    ),
    RecordType(
        "beef.ship",
        models.Ship,
        _roles(PROCESSOR, EXPORTER, CARRIER, IMPORTER),
        "the holder sends objects to another party",
    ),
    RecordType(
        "beef.receive",
        models.Receive,
        RECEIVING_ROLES,
        "the addressee takes custody",
    ),
    RecordType(
        "beef.sensor",
        models.SensorReport,
        _roles(CARRIER, EXPORTER, IMPORTER),
        "cold-chain temperature readings",
    ),
    RecordType("beef.inspect", models.Inspect, _roles(CUSTOMS), "GACC port inspection"),
    RecordType("beef.sell", models.Sell, _roles(RETAILER), "sold to a consumer"),
    RecordType("beef.recall", models.Recall, _roles(REGULATOR, PROCESSOR), "recall a lot"),
    RecordType("beef.correct", models.Correction, CHAIN, "error declaration on an own event"),
]

APP = App(
    name="beef",
    record_types=RECORD_TYPES,
    projection=BeefProjection(),
    metadata=metadata,
    off_ledger_tables=frozenset({scan_sources.name}),
    api=[public_api.router, member_api.router],
    pages=[pages],
    site=SITE,
    commands={"scan": scan_command},
    scenario=scenario.run,
    benches={"beef": bench_beef},
    body_limits={"/v1/beef/scan": public_api.MAX_PHOTO_BYTES + 64 * 1024},
)
