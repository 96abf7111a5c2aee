"""Pack, carton and container identifiers.

A pack is GTIN-14 + lot (AI 10) + serial (AI 21), written as a GS1 Digital Link URI
`{base}/01/{gtin}/10/{lot}/21/{serial}`. The ledger stores the canonical form on id.gs1.org so
the same pack has one key whatever resolver printed its QR code; labels print the resolver's
own base so a phone camera opens the scan page. Cartons are SSCCs (AI 00). Containers carry
their ISO 6346 number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import biip
from biip.checksums import gs1_standard_check_digit

CANONICAL_BASE = "https://id.gs1.org"
CONTAINER_PREFIX = "urn:sealchain:container:"
ORG_PREFIX = "urn:sealchain:org:"
# GS1 AI encodable character set 82, which lot (AI 10) and serial (AI 21) use; 1-20 characters.
CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
ISO6346 = re.compile(r"^[A-Z]{3}[UJZ][0-9]{7}$")
GTIN14 = re.compile(r"[0-9]{14}")
PACK_PATH = re.compile(r".*?/01/([0-9]{14})/10/([^/]+)/21/([^/]+)/?")


class IdentifierError(ValueError):
    """An identifier that is not a valid GTIN/lot/serial, SSCC or container number."""


@dataclass(frozen=True)
class PackId:
    gtin: str
    lot: str
    serial: str

    def path(self) -> str:
        # Set 82 allows '/', '?', '%' and more: percent-encode so the URI parses back.
        return f"/01/{self.gtin}/10/{quote(self.lot, safe='')}/21/{quote(self.serial, safe='')}"

    def uri(self, base: str = CANONICAL_BASE) -> str:
        return base.rstrip("/") + self.path()

    @property
    def lot_key(self) -> str:
        return lot_key(self.gtin, self.lot)


def lot_key(gtin: str, lot: str) -> str:
    """The lot as a class-level Digital Link (LGTIN): every pack of one lot shares it."""
    return f"{CANONICAL_BASE}/01/{gtin}/10/{quote(lot, safe='')}"


def check_gtin(gtin: str) -> str:
    """Return the GTIN-14 if its check digit is right; raises IdentifierError."""
    if not GTIN14.fullmatch(gtin):
        raise IdentifierError(f"GTIN {gtin!r} must be 14 digits")
    # biip's GS1 mod-10 digit alone: biip.parse(gtin) tries every kind of barcode first, 60 µs
    # against 2, and every scan checks the GTIN of its path.
    if gs1_standard_check_digit(gtin[:-1]) != int(gtin[-1]):
        raise IdentifierError(f"GTIN {gtin} has a wrong check digit")
    return gtin


def check_cset82(value: str, what: str) -> str:
    if not CSET82.fullmatch(value):
        raise IdentifierError(f"{what} {value!r} must be 1-20 characters of the GS1 set 82")
    return value


def pack_id(gtin: str, lot: str, serial: str) -> PackId:
    return PackId(check_gtin(gtin), check_cset82(lot, "lot"), check_cset82(serial, "serial"))


def parse_pack_uri(uri: str) -> PackId:
    """Any Digital Link URI of a serialised pack (any resolver base) -> PackId."""
    parts = urlsplit(uri.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IdentifierError(f"{uri[:80]!r} is not a Digital Link URI")
    return parse_pack_path(parts.path)


def parse_pack_path(path: str) -> PackId:
    """`/01/{gtin}/10/{lot}/21/{serial}` (percent-encoded) -> PackId.

    The path's shape is fixed, so what a Digital Link parser checks of it is its three values:
    the GTIN's check digit and the set 82 of lot and serial (pack_id). biip's full parse says
    the same of every path (tests/apps/beef/test_identifiers.py holds the two equal), and with
    the GTIN's own parse cost 140 µs a scan: a third of a scan at 10^6 packs, where few paths
    repeat (docs/benchmarks.md, "Scan page, third round")."""
    match = PACK_PATH.fullmatch(path)
    if not match:
        raise IdentifierError(f"{path[:80]!r} is not /01/<gtin>/10/<lot>/21/<serial>")
    return pack_id(match.group(1), unquote(match.group(2)), unquote(match.group(3)))


def sscc_uri(sscc: str) -> str:
    """A carton's SSCC (18 digits, check digit checked) as a Digital Link URI."""
    if not re.fullmatch(r"[0-9]{18}", sscc) or biip.parse(f"00{sscc}").sscc is None:
        raise IdentifierError(f"SSCC {sscc!r} must be 18 digits with a right check digit")
    return f"{CANONICAL_BASE}/00/{sscc}"


def iso6346_check_digit(owner_and_serial: str) -> int:
    """ISO 6346 check digit of the first 10 characters of a container number."""
    values: list[int] = []
    letter_value = 10
    table: dict[str, int] = {}
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if letter_value % 11 == 0:  # multiples of 11 are skipped
            letter_value += 1
        table[letter] = letter_value
        letter_value += 1
    for ch in owner_and_serial:
        values.append(table[ch] if ch.isalpha() else int(ch))
    total: int = sum(v * (2**i) for i, v in enumerate(values))
    return total % 11 % 10


def container_uri(number: str) -> str:
    if not ISO6346.fullmatch(number) or iso6346_check_digit(number[:10]) != int(number[10]):
        raise IdentifierError(f"container number {number!r} fails the ISO 6346 check digit")
    return CONTAINER_PREFIX + number


def org_uri(org: str) -> str:
    return ORG_PREFIX + org


def org_from_uri(uri: str) -> str:
    if not uri.startswith(ORG_PREFIX):
        raise IdentifierError(f"party {uri!r} is not {ORG_PREFIX}<org>")
    return uri[len(ORG_PREFIX) :]


def kind_of(uri: str) -> str:
    """pack, carton or container, from the identifier's shape."""
    if uri.startswith(CONTAINER_PREFIX):
        return "container"
    if uri.startswith(f"{CANONICAL_BASE}/00/"):
        return "carton"
    if uri.startswith(f"{CANONICAL_BASE}/01/") and "/21/" in uri:
        return "pack"
    raise IdentifierError(f"{uri[:80]!r} is not a pack, carton (SSCC) or container identifier")


def with_check_digit(digits: str) -> str:
    """Append the GS1 mod-10 check digit (for building GTINs and SSCCs in scenarios)."""
    return digits + str(gs1_standard_check_digit(digits))
