"""The demo's products, places and containers, in one place: the scenario, the benchmark and
the tests all ship the same beef from the same meatworks to the same stores."""

from __future__ import annotations

from typing import Any

from apps.beef import builders as b
from apps.beef.identifiers import iso6346_check_digit, with_check_digit

GTIN = with_check_digit("0931234500001")  # the story's striploin
BENCH_GTIN = with_check_digit("0931234500002")  # the benchmark's, so runs never collide

MEATWORKS = b.place("qld-meatworks", "Central Queensland meatworks, est. 1234", "Rockhampton", "AU")
PORT_AU = b.place("port-brisbane", "Port of Brisbane, reefer terminal", "Brisbane", "AU")
SEA = b.place("coral-sea", "At sea, Brisbane to Shanghai", "Coral Sea", "AU")
PORT_CN = b.place("port-yangshan", "Yangshan deep-water port", "Shanghai", "CN")
WAREHOUSE = b.place("sh-coldstore", "Importer cold store, Pudong", "Shanghai", "CN")
STORES = {
    "retail-a": b.place("store-a", "Retailer A, Jing'an", "Shanghai", "CN"),
    "retail-b": b.place("store-b", "Retailer B, Xuhui", "Shanghai", "CN"),
    "retail-c": b.place("store-c", "Retailer C, Xihu", "Hangzhou", "CN"),
}
CONTAINER_OWNERS = ("CSQU", "MSKU")  # reefer container owner codes (ISO 6346, category U)


def lot_data(
    lot: str,
    *,
    gtin: str = GTIN,
    packed_on: str = "2026-11-01",
    best_before: str = "2027-01-20",
    cattle: int = 30,
) -> dict[str, Any]:
    """Lot master data (EPCIS ilmd) for a lot of chilled grass-fed striploin."""
    return {
        "gtin": gtin,
        "lot": lot,
        "productName": "Chilled grass-fed beef striploin",
        "cut": "striploin",
        "netWeightKg": 1.25,
        "packedOn": packed_on,
        "bestBefore": best_before,
        "msaGrade": "MSA 4 star",
        "establishment": "EST 1234",
        "processor": "Central Queensland Meatworks",
        "origin": "Queensland, Australia",
        "nlisTags": [f"3AB1CD2EF{n:07d}" for n in range(1, cattle + 1)],
    }


def container_numbers(run: str) -> list[str]:
    """Two container numbers for a run of the story, with their ISO 6346 check digits:
    containers are reused voyage after voyage, so each run gets its own pair."""
    serial = int("".join(ch for ch in run if ch.isdigit())[-6:])
    numbers = []
    for owner, n in zip(CONTAINER_OWNERS, (serial, (serial + 1) % 10**6), strict=True):
        body = f"{owner}{n:06d}"
        numbers.append(f"{body}{iso6346_check_digit(body)}")
    return numbers
