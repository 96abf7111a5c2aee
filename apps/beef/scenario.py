"""`sealchain scenario beef`: chilled beef from a Queensland meatworks to Shanghai stores, told
against a running server, each party signing with its own key.

120 packs of one lot from NLIS-tagged cattle, 12 cartons, two reefer containers, an export
health certificate, a 14-day voyage with temperature logs (container 2 has an excursion and
an alarm), GACC inspection (container 2 held), the importer, three retailers and sales; then a
cloned label scanned again after its sale, a code never registered, and a recall of the lot.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from apps.beef import builders as b
from apps.beef.demo import (
    GTIN,
    MEATWORKS,
    PORT_AU,
    PORT_CN,
    SEA,
    STORES,
    WAREHOUSE,
    container_numbers,
    lot_data,
)
from apps.beef.identifiers import container_uri, pack_id, sscc_uri, with_check_digit
from apps.beef.qr import qr_png
from ledger.plugin import Home, LedgerClient

PACKS, PER_CARTON, CARTONS_PER_CONTAINER = 120, 10, 6
HTTP_TIMEOUT = 30.0  # seconds: a loaded demo machine once took more than httpx's default 5
# Documentation addresses (RFC 5737) standing for the phones that scan the cloned label.
SCAN_NETWORKS = ("198.51.100.7", "203.0.113.20", "203.0.113.41", "192.0.2.88", "198.51.100.99")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Story:
    def __init__(self, url: str, home: Path, console: Console) -> None:
        self.url, self.console = url, console
        self.home = Home(home)
        self.policy = self.home.trust_policy()
        self.clients: dict[str, LedgerClient] = {}
        self.entries = 0
        stamp = datetime.now(UTC)
        self.lot = "Q" + stamp.strftime("%y%m%d%H%M%S")
        self.start = stamp - timedelta(days=24)

    def at(self, hours: float) -> str:
        return _iso(self.start + timedelta(hours=hours))

    def client(self, org: str) -> LedgerClient:
        if org not in self.clients:
            key = self.home.member_signer(org)
            self.clients[org] = LedgerClient(self.url, org, key, self.policy)
        return self.clients[org]

    def record(self, org: str, *records: tuple[str, dict[str, Any]]) -> None:
        """Submit one party's records (one batch if several); every receipt is verified."""
        client = self.client(org)
        if len(records) == 1:
            client.submit(*records[0])
        else:
            results = client.submit_batch([client.sign(t, body) for t, body in records])
            for result in results:
                if isinstance(result, Exception):
                    raise result
        self.entries += len(records)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def run(*, url: str, home: Path, out: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    story = Story(url, home, console)
    try:
        return _tell(story, out)
    finally:
        story.close()


def serial_of(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _tell(s: Story, out: Path) -> dict[str, Any]:
    say = s.console.print
    packs = [pack_id(GTIN, s.lot, f"{i:04d}").uri() for i in range(1, PACKS + 1)]
    # SSCC: extension 1, company prefix 9312345, a 9-digit serial unique to this run
    run_serial = int(hashlib.sha256(s.lot.encode()).hexdigest(), 16) % 10**6
    cartons = [sscc_uri(with_check_digit(f"19312345{run_serial:06d}{n:03d}")) for n in range(12)]
    numbers = container_numbers(s.lot)
    containers = [container_uri(c) for c in numbers]
    lot = lot_data(
        s.lot,
        packed_on=(s.start + timedelta(hours=2)).date().isoformat(),
        best_before=(s.start + timedelta(days=84)).date().isoformat(),
    )

    say(f"[bold]Lot {s.lot}[/bold]: {PACKS} packs from {len(lot['nlisTags'])} NLIS-tagged cattle")
    commissioned = b.commission(packs, lot, MEATWORKS, s.at(2))
    # The commissioning and its lot commitment in one batch: a scan then carries the short
    # commitment and one path to its root, not the list of every pack in the lot.
    s.record("au-meatworks", commissioned, b.lot_commitment(commissioned))
    s.record(
        "au-meatworks",
        *(
            b.aggregate(carton, packs[n * PER_CARTON : (n + 1) * PER_CARTON], MEATWORKS, s.at(3))
            for n, carton in enumerate(cartons)
        ),
    )
    s.record("au-meatworks", b.ship(cartons, "au-meatworks", "au-exporter", MEATWORKS, s.at(20)))
    s.record("au-exporter", b.receive(cartons, "au-meatworks", PORT_AU, s.at(30), offset="+10:00"))
    say("  packed into 12 cartons, trucked to the exporter at the Port of Brisbane")
    s.record(
        "au-exporter",
        *(
            b.aggregate(
                container,
                cartons[i * CARTONS_PER_CONTAINER : (i + 1) * CARTONS_PER_CONTAINER],
                PORT_AU,
                s.at(34),
            )
            for i, container in enumerate(containers)
        ),
    )
    certificate = {
        "kind": "export-health",
        "number": f"AU-EHC-{s.lot}",
        "issuer": "Australian Government DAFF",
    }
    s.record(
        "au-exporter",
        b.ship(
            containers, "au-exporter", "reefer-line", PORT_AU, s.at(40), certificates=[certificate]
        ),
    )
    s.record(
        "reefer-line", b.receive(containers, "au-exporter", PORT_AU, s.at(42), offset="+10:00")
    )
    say(
        f"  two reefer containers {', '.join(numbers)} loaded, "
        f"export health certificate {certificate['number']}"
    )

    voyage = range(0, 14 * 24, 12)
    steady = [(s.at(44 + h), round(-1.5 + 0.2 * ((h // 12) % 3 - 1), 1)) for h in voyage]
    warm = list(steady)
    warm[10] = (warm[10][0], 3.2)  # a compressor fault: excursion
    warm[11] = (warm[11][0], 4.6)  # and an alarm above +4 C
    warm[12] = (warm[12][0], 1.8)
    s.record(
        "reefer-line",
        b.sensor([containers[0]], steady, SEA, s.at(44 + 14 * 24)),
        b.sensor([containers[1]], warm, SEA, s.at(44 + 14 * 24 + 0.1)),
    )
    s.record(
        "reefer-line",
        b.ship(
            containers,
            "reefer-line",
            "sh-importer",
            PORT_CN,
            s.at(44 + 14 * 24 + 1),
            offset="+08:00",
        ),
    )
    say("  14-day voyage logged: container 2 had an excursion to +3.2 C and an alarm at +4.6 C")

    t = 44 + 14 * 24 + 6
    s.record(
        "gacc-shanghai",
        b.inspect([containers[0]], certificate["number"], True, "release", PORT_CN, s.at(t)),
        b.inspect(
            [containers[1]],
            certificate["number"],
            False,
            "hold",
            PORT_CN,
            s.at(t + 0.5),
            note="temperature alarm on the voyage log",
        ),
    )
    s.record("sh-importer", b.receive(containers, "reefer-line", PORT_CN, s.at(t + 2)))
    say("  GACC Shanghai: container 1 conformant and released, container 2 held")
    s.record("sh-importer", b.disaggregate(containers[0], cartons[:6], WAREHOUSE, s.at(t + 8)))
    shops = list(STORES)
    s.record(
        "sh-importer",
        *(
            b.ship(cartons[2 * i : 2 * i + 2], "sh-importer", shop, WAREHOUSE, s.at(t + 20))
            for i, shop in enumerate(shops)
        ),
    )
    sold: list[str] = []
    for i, shop in enumerate(shops):
        mine = cartons[2 * i : 2 * i + 2]
        s.record(shop, b.receive(mine, "sh-importer", STORES[shop], s.at(t + 26)))
        s.record(
            shop,
            *(
                b.disaggregate(
                    c,
                    packs[cartons.index(c) * PER_CARTON : (cartons.index(c) + 1) * PER_CARTON],
                    STORES[shop],
                    s.at(t + 27),
                )
                for c in mine
            ),
        )
        selling = [packs[cartons.index(mine[0]) * PER_CARTON + k] for k in range(3 - i)]
        s.record(shop, b.sell(selling, STORES[shop], s.at(t + 40 + i)))
        sold += selling
    say(f"  three retailers received their cartons; {len(sold)} packs sold")

    def path(uri: str) -> str:
        return uri[len("https://id.gs1.org") :]

    clone = sold[0]
    scans = []
    with httpx.Client(
        base_url=s.url, headers={"accept": "application/json"}, timeout=HTTP_TIMEOUT
    ) as web:
        # The buyer's phone, then the same code on copied labels, scanned in four other places.
        # A demo server on this machine trusts the forwarded address from loopback, as it
        # would from its reverse proxy: each scan comes from its own network here.
        for network in SCAN_NETWORKS:
            scans.append(web.get(path(clone), headers={"x-forwarded-for": network}).status_code)
        never = pack_id(GTIN, s.lot, "9999").uri()
        unknown = web.get(path(never)).status_code
        clone_view = web.get(path(clone), headers={"x-forwarded-for": SCAN_NETWORKS[-1]}).json()
    warning = (clone_view.get("scans") or {}).get("warning")
    say(
        f"  a cloned label: the sold pack's code scanned from {len(scans)} networks -> "
        f"{warning or 'no warning'}"
    )
    say(f"  a code never registered answers {unknown}: possible counterfeit")

    s.record(
        "samr",
        b.recall(
            GTIN,
            s.lot,
            "Listeria monocytogenes in a retained sample of the lot",
            PORT_CN,
            s.at(t + 60),
        ),
    )
    say("  SAMR recalled the lot: every pack shows the recall, wherever it is")

    qr_dir = out / "qr"
    qr_dir.mkdir(parents=True, exist_ok=True)
    for uri in packs:
        (qr_dir / f"{uri.rsplit('/', 1)[-1]}.png").write_bytes(
            qr_png(s.url.rstrip("/") + path(uri))
        )
    labels_url = f"{s.url}/v1/beef/labels?gtin={GTIN}&lot={s.lot}"
    (out / "labels.html").write_text(
        httpx.get(labels_url, timeout=HTTP_TIMEOUT).text, encoding="utf-8"
    )
    on_sale = packs[cartons.index(cartons[0]) * PER_CARTON + 5]
    held = packs[6 * PER_CARTON]
    urls = {
        "sold pack (cloned label)": s.url + path(clone),
        "pack on sale (now recalled)": s.url + path(on_sale),
        "pack held by customs": s.url + path(held),
        "code never registered": s.url + path(never),
        "label sheet": labels_url,
        "QR image of the sold pack": f"{s.url}/v1/beef/qr/{GTIN}/{s.lot}/{serial_of(clone)}.png",
        "upload a photo": f"{s.url}/beef/scan",
    }
    summary = {
        "lot": s.lot,
        "containers": numbers,
        "gtin": GTIN,
        "packs": len(packs),
        "entries": s.entries,
        "sold": len(sold),
        "qr_codes": str(qr_dir),
        "urls": urls,
        # What a scan of a counterfeit code answers: `sealchain demo --check` expects it.
        "expect_status": {"code never registered": 404},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    say(f"  wrote {len(packs)} QR codes to {qr_dir} and the label sheet to {out / 'labels.html'}")
    return summary
