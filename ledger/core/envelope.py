"""The signed transaction envelope (docs/architecture.md §2).

    {"v":1, "type", "org", "key": hex8 key id, "nonce": base64url >= 16 bytes,
     "ts": "YYYY-MM-DDTHH:MM:SS.mmmZ", "body": {...}, "sig": base64 Ed25519}

signed message = b"sealchain/tx/v1\\n" + JCS(envelope without sig)
tx_id          = hex SHA-256(JCS(envelope without sig))   -- never depends on signature bytes
entry bytes    = JCS(envelope with sig)                    -- the Merkle leaf data
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.core.canonical import (
    MAX_ENTRY_BYTES,
    canonical_bytes,
    parse_presumed_canonical,
    parse_strict,
)
from ledger.core.keys import SIGNATURE_LEN, Signer, Verifier
from ledger.errors import BadSignature, InvalidEnvelope, LedgerError, PayloadTooLarge

DOMAIN = b"sealchain/tx/v1\n"
VERSION = 1
FIELDS = frozenset({"v", "type", "org", "key", "nonce", "ts", "body", "sig"})
UNSIGNED_FIELDS = tuple(sorted(FIELDS - {"sig"}))
# JCS sorts the members, and "body" sorts first: every canonical entry begins so.
CANONICAL_START = b'{"body":'

MIN_NONCE_BYTES = 16
MAX_NONCE_BYTES = 64

TYPE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}(\.[a-z][a-z0-9_-]{0,31}){1,3}$")
ORG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KEY_RE = re.compile(r"^[0-9a-f]{8}$")
TS_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$")
B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def format_ts(moment: datetime) -> str:
    """UTC time with milliseconds and a Z, the one time format on the ledger."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse the ledger time format; raises ValueError if it is anything else."""
    if not isinstance(text, str) or not TS_RE.fullmatch(text):
        raise ValueError(f"time {text!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    return datetime.fromisoformat(text)  # the pattern above leaves only real dates to check


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(MIN_NONCE_BYTES)).rstrip(b"=").decode()


@dataclass(frozen=True)
class Envelope:
    """A schema-checked signed envelope. `raw` is its canonical entry bytes."""

    type: str
    org: str
    key: str
    nonce: str
    ts: str
    body: dict[str, Any]
    sig: bytes
    raw: bytes
    tx_id: str
    unsigned_bytes: bytes = field(default=b"", repr=False, compare=False)  # JCS without sig

    def unsigned(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "type": self.type,
            "org": self.org,
            "key": self.key,
            "nonce": self.nonce,
            "ts": self.ts,
            "body": self.body,
        }

    def signed_message(self) -> bytes:
        # The canonical bytes computed once at parse time (for tx_id) are the signed payload.
        return DOMAIN + (self.unsigned_bytes or canonical_bytes(self.unsigned()))

    def as_dict(self) -> dict[str, Any]:
        return {**self.unsigned(), "sig": base64.b64encode(self.sig).decode()}

    def verify_signature(self, verifier: Verifier) -> None:
        """Raise BadSignature unless `verifier` signed this envelope."""
        if verifier.key_id_hex != self.key:
            raise BadSignature(f"envelope names key {self.key}, not {verifier.key_id_hex}")
        if not verifier.verify(self.signed_message(), self.sig):
            raise BadSignature(f"signature by {self.org} key {self.key} does not verify")


def _field_error(name: str, why: str) -> InvalidEnvelope:
    return InvalidEnvelope(f"envelope field {name!r} {why}", field=name)


def envelope_from_dict(value: Any) -> Envelope:
    """Check the envelope schema (step 2) and build the canonical entry; raises InvalidEnvelope."""
    if not isinstance(value, dict):
        raise InvalidEnvelope("envelope must be a JSON object")
    if value.keys() != FIELDS:  # one set comparison in the common case
        missing, extra = FIELDS - value.keys(), value.keys() - FIELDS
        if missing:
            raise InvalidEnvelope(f"envelope lacks {', '.join(sorted(missing))}")
        raise InvalidEnvelope(f"envelope has unknown fields {', '.join(sorted(extra))}")
    if type(value["v"]) is not int or value["v"] != VERSION:
        raise _field_error("v", f"must be {VERSION}")
    for name, pattern in (("type", TYPE_RE), ("org", ORG_RE), ("key", KEY_RE), ("ts", TS_RE)):
        if not isinstance(value[name], str) or not pattern.fullmatch(value[name]):
            raise _field_error(name, f"does not match {pattern.pattern}")
    try:
        parse_ts(value["ts"])
    except ValueError as e:
        raise _field_error("ts", "is not a real UTC time") from e
    nonce = value["nonce"]
    if not isinstance(nonce, str) or not B64URL_RE.fullmatch(nonce):
        raise _field_error("nonce", "must be unpadded base64url")
    nonce_len = len(_b64url_decode(nonce))
    if not MIN_NONCE_BYTES <= nonce_len <= MAX_NONCE_BYTES:
        raise _field_error("nonce", f"must encode {MIN_NONCE_BYTES}-{MAX_NONCE_BYTES} bytes")
    if not isinstance(value["body"], dict):
        raise _field_error("body", "must be a JSON object")
    sig = _signature(value["sig"])
    if sig is None:
        raise _field_error("sig", "must be the standard base64 of 64 bytes")
    unsigned = {k: value[k] for k in UNSIGNED_FIELDS}
    unsigned_bytes = canonical_bytes(unsigned)
    raw = _with_signature(unsigned_bytes, value)
    if len(raw) > MAX_ENTRY_BYTES:
        raise PayloadTooLarge(f"entry is {len(raw)} bytes, over the {MAX_ENTRY_BYTES}-byte limit")
    return Envelope(
        type=value["type"],
        org=value["org"],
        key=value["key"],
        nonce=nonce,
        ts=value["ts"],
        body=value["body"],
        sig=sig,
        raw=raw,
        tx_id=hashlib.sha256(unsigned_bytes).hexdigest(),
        unsigned_bytes=unsigned_bytes,
    )


def _signature(text: object) -> bytes | None:
    """The signature whose standard base64 is exactly `text` (no stray bits after the last
    digit, which would decode the same), or None."""
    if not isinstance(text, str):
        return None
    try:
        sig = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, and the ValueError non-ASCII text raises
        return None
    return sig if len(sig) == SIGNATURE_LEN and base64.b64encode(sig).decode() == text else None


def _signature_member(value: dict[str, Any]) -> bytes:
    """The "sig" member as JCS(envelope) writes it: base64 needs no escaping."""
    return f',"sig":"{value["sig"]}"'.encode()


def _canonical_tail(value: dict[str, Any]) -> bytes:
    """What follows the "sig" member in JCS(envelope), and ends JCS(envelope without sig)."""
    return f',"ts":"{value["ts"]}","type":"{value["type"]}","v":{VERSION}}}'.encode()


def _with_signature(unsigned_bytes: bytes, value: dict[str, Any]) -> bytes:
    """JCS(envelope) from JCS(envelope without sig), without encoding the body a second time.

    JCS sorts the top-level keys body, key, nonce, org, sig, ts, type, v, so "sig" goes just
    before the "ts", "type" and "v" members, whose values the schema restricts to characters
    JSON never escapes: the tail of the unsigned bytes is known exactly.
    """
    tail = _canonical_tail(value)
    if not unsigned_bytes.endswith(tail):  # cannot happen for a schema-checked envelope
        return canonical_bytes(value)
    return unsigned_bytes[: -len(tail)] + _signature_member(value) + tail


def _b64url_decode(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise _field_error("nonce", "is not base64url") from e
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
        raise _field_error("nonce", "is not in canonical base64url form")
    return data


def canonical_envelope(data: bytes) -> Envelope | None:
    """The envelope whose canonical entry bytes are exactly `data` (`.raw == data`), in about
    two thirds of the strict parse's time; None for anything else, for the strict parse to
    read or refuse. A stored entry must be canonical, and clients send their entries so."""
    if not data.startswith(CANONICAL_START):  # declined before parsing: no second parse to pay
        return None
    value = parse_presumed_canonical(data)
    if value is None:
        return None
    try:
        envelope = envelope_from_dict(value)
    except LedgerError:
        return None
    return envelope if envelope.raw == data else None


def envelope_from_checked(data: bytes) -> Envelope:
    """The envelope of canonical entry bytes this service has checked already, rebuilt without
    checking them again: the block writer's way to read what its workers send it over their
    private socket, where the schema and its JCS encoding were most of rebuilding an entry.

    tx_id is computed, not taken on trust: JCS ends every entry with the "sig" member and then
    "ts", "type" and "v" (`_with_signature`), so the bytes must end exactly so, and the unsigned
    bytes are theirs less that one member. Raises InvalidEnvelope for bytes not so shaped, or
    a signature that is not base64 of 64 bytes; never call it on bytes from outside the
    service, since nothing else is checked."""
    try:
        value = orjson.loads(data)  # \u escapes included, which the worker's checks allowed
    except orjson.JSONDecodeError:
        value = None
    if (
        type(value) is not dict
        or value.keys() != FIELDS
        or not data.startswith(CANONICAL_START)
        or any(type(value[k]) is not str for k in ("sig", "ts", "type"))
    ):
        raise InvalidEnvelope("a checked entry was expected: not the members of an envelope")
    tail = _canonical_tail(value)
    ending = _signature_member(value) + tail
    if value["v"] != VERSION or not data.endswith(ending):
        raise InvalidEnvelope("a checked entry was expected: its last members are not canonical")
    sig = _signature(value["sig"])
    if sig is None:
        raise InvalidEnvelope(
            "a checked entry was expected: its signature is not the standard base64 of 64 bytes"
        )
    unsigned_bytes = data[: -len(ending)] + tail
    return Envelope(
        type=value["type"],
        org=value["org"],
        key=value["key"],
        nonce=value["nonce"],
        ts=value["ts"],
        body=value["body"],
        sig=sig,
        raw=data,
        tx_id=hashlib.sha256(unsigned_bytes).hexdigest(),
        unsigned_bytes=unsigned_bytes,
    )


def parse_envelope(data: bytes) -> Envelope:
    """Steps (1) and (2): size and strict JSON, then the envelope schema. Canonical bytes take
    the fast path to the same envelope; anything else, and every refusal, the strict one."""
    return canonical_envelope(data) or envelope_from_dict(parse_strict(data))


def sign_envelope(
    signer: Signer,
    *,
    type: str,
    org: str,
    body: dict[str, Any],
    ts: str | None = None,
    nonce: str | None = None,
) -> Envelope:
    """Build and sign an envelope with `signer` (whose key id goes in the `key` field)."""
    unsigned = {
        "v": VERSION,
        "type": type,
        "org": org,
        "key": signer.key_id_hex,
        "nonce": nonce or new_nonce(),
        "ts": ts or format_ts(datetime.now(UTC)),
        "body": body,
    }
    sig = signer.sign(DOMAIN + canonical_bytes(unsigned))
    return envelope_from_dict({**unsigned, "sig": base64.b64encode(sig).decode()})
