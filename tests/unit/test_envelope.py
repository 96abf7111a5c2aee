"""The signed transaction envelope (docs/architecture.md §2): schema, ids, signing, and domain
separation."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import envelope as env_mod
from ledger.core.canonical import MAX_ENTRY_BYTES, canonical_bytes
from ledger.core.envelope import envelope_from_dict, parse_envelope, sign_envelope
from ledger.core.keys import Signer
from ledger.errors import BadSignature, InvalidEnvelope, MalformedJSON, PayloadTooLarge

SEED = b"\x21" * 32
SIGNER = Signer.from_seed("sealchain.test/org/au-meatworks", SEED)
TS = "2026-11-28T08:30:00.000Z"
NONCE = base64.urlsafe_b64encode(b"\x5a" * 16).rstrip(b"=").decode()
BODY = {"pack": "QR-0001", "weight_g": 1250, "cut": "striploin"}


def _envelope(**overrides: Any) -> env_mod.Envelope:
    args: dict[str, Any] = {
        "type": "beef.commission",
        "org": "au-meatworks",
        "body": BODY,
        "ts": TS,
        "nonce": NONCE,
    }
    args.update(overrides)
    return sign_envelope(SIGNER, **args)


def _unsigned(envelope: env_mod.Envelope) -> dict[str, Any]:
    return {k: v for k, v in envelope.as_dict().items() if k != "sig"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- round trips and ids ------------------------------------------------------------------------


def test_signed_envelope_round_trips_through_its_dict_and_bytes() -> None:
    env = _envelope()
    assert envelope_from_dict(env.as_dict()) == env
    assert parse_envelope(env.raw) == env
    assert env.raw == canonical_bytes(env.as_dict())
    assert set(env.as_dict()) == {"v", "type", "org", "key", "nonce", "ts", "body", "sig"}
    assert env.key == SIGNER.key_id_hex
    env.verify_signature(SIGNER.verifier)


def test_tx_id_is_sha256_of_canonical_unsigned_envelope() -> None:
    env = _envelope()
    assert env.tx_id == hashlib.sha256(canonical_bytes(_unsigned(env))).hexdigest()


def test_tx_id_does_not_change_when_signature_bytes_change() -> None:
    # Ids never depend on signature bytes, so a re-encoded or malleated signature is the same tx.
    env = _envelope()
    forged = {**env.as_dict(), "sig": base64.b64encode(b"\x01" * 64).decode()}
    other = envelope_from_dict(forged)
    assert other.tx_id == env.tx_id
    assert other.raw != env.raw
    with pytest.raises(BadSignature):
        other.verify_signature(SIGNER.verifier)


def test_tx_id_changes_with_any_unsigned_field() -> None:
    env = _envelope()
    ids = {
        env.tx_id,
        _envelope(body={**BODY, "weight_g": 1251}).tx_id,
        _envelope(ts="2026-11-28T08:30:00.001Z").tx_id,
        _envelope(nonce=_b64url(b"\x5b" * 16)).tx_id,
        _envelope(type="beef.ship").tx_id,
        _envelope(org="au-exporter").tx_id,
    }
    assert len(ids) == 6


def test_signed_message_is_domain_prefix_plus_canonical_unsigned_envelope() -> None:
    env = _envelope()
    message = env.signed_message()
    assert message.startswith(b"sealchain/tx/v1\n")
    assert message == b"sealchain/tx/v1\n" + canonical_bytes(_unsigned(env))
    Ed25519PrivateKey.from_private_bytes(SEED).public_key().verify(env.sig, message)


def test_rejects_signature_made_without_domain_prefix() -> None:
    # A signature over bare JCS bytes (say, from another protocol using the same key) must not
    # be accepted as a transaction signature.
    env = _envelope()
    bare = SIGNER.sign(canonical_bytes(_unsigned(env)))
    replayed = envelope_from_dict({**_unsigned(env), "sig": base64.b64encode(bare).decode()})
    with pytest.raises(BadSignature):
        replayed.verify_signature(SIGNER.verifier)


def test_rejects_body_changed_after_signing() -> None:
    env = _envelope()
    tampered = envelope_from_dict({**env.as_dict(), "body": {**BODY, "weight_g": 9999}})
    with pytest.raises(BadSignature):
        tampered.verify_signature(SIGNER.verifier)


def test_rejects_verification_with_another_key() -> None:
    env = _envelope()
    with pytest.raises(BadSignature):
        env.verify_signature(Signer.from_seed("sealchain.test/org/x", b"\x22" * 32).verifier)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
    st.text(max_size=20),
)
json_bodies = st.dictionaries(
    st.text(max_size=10),
    st.recursive(
        json_scalars,
        lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c)),
        max_leaves=10,
    ),
    max_size=6,
)


@given(json_bodies, st.binary(min_size=16, max_size=64))
def test_any_signed_envelope_round_trips_and_verifies(body: dict[str, Any], nonce: bytes) -> None:
    env = _envelope(body=body, nonce=_b64url(nonce))
    again = parse_envelope(env.raw)
    assert again.tx_id == env.tx_id
    assert again.raw == env.raw
    again.verify_signature(SIGNER.verifier)
    # The entry bytes are spliced from the unsigned bytes: they must be JCS of the whole.
    assert env.raw == canonical_bytes(env.as_dict())
    assert env.unsigned_bytes == canonical_bytes(env.unsigned())


# --- schema (pipeline step 2) -------------------------------------------------------------------


_DROP = object()  # marks a field to delete in _with


def _with(**changes: Any) -> dict[str, Any]:
    value = _envelope().as_dict()
    for key, new in changes.items():
        if new is _DROP:
            del value[key]
        else:
            value[key] = new
    return value


@pytest.mark.parametrize("field", ["v", "type", "org", "key", "nonce", "ts", "body", "sig"])
def test_rejects_missing_field(field: str) -> None:
    with pytest.raises(InvalidEnvelope, match=field):
        envelope_from_dict(_with(**{field: _DROP}))


@pytest.mark.parametrize("extra", ["id", "tx_id", "V", "signature"])
def test_rejects_extra_field(extra: str) -> None:
    # An unsigned-looking extra field could smuggle meaning past the signature check.
    with pytest.raises(InvalidEnvelope, match="unknown"):
        envelope_from_dict({**_envelope().as_dict(), extra: 1})


@pytest.mark.parametrize("v", [2, 0, True, 1.0, "1", None])
def test_rejects_other_versions_including_true(v: Any) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        envelope_from_dict(_with(v=v))
    assert caught.value.extra["field"] == "v"


BAD_FIELDS: list[tuple[str, Any]] = [
    ("type", "beef"),
    ("type", "Beef.commission"),
    ("type", "beef..commission"),
    ("type", ".beef"),
    ("type", "beef.commission."),
    ("type", "a.b.c.d.e"),
    ("type", ""),
    ("type", 5),
    ("org", "AU-meatworks"),
    ("org", "-meatworks"),
    ("org", "au meatworks"),
    ("org", "a" * 64),
    ("org", ""),
    ("org", None),
    ("key", "ABCDEF12"),
    ("key", "abcdef1"),
    ("key", "abcdef123"),
    ("key", "ghijklmn"),
    ("key", 12345678),
    ("ts", "2026-11-28T08:30:00Z"),
    ("ts", "2026-11-28T08:30:00.000000Z"),
    ("ts", "2026-11-28T08:30:00.000+00:00"),
    ("ts", "2026-11-28 08:30:00.000Z"),
    ("ts", "2026-13-28T08:30:00.000Z"),
    ("ts", "2026-02-30T08:30:00.000Z"),
    ("ts", "2026-11-28T24:00:00.000Z"),
    ("ts", "2026-11-28T08:30:00.000Z\n"),
    ("ts", 1764318600),
    ("nonce", _b64url(b"\x01" * 15)),  # too short
    ("nonce", _b64url(b"\x01" * 65)),  # too long
    ("nonce", base64.urlsafe_b64encode(b"\x01" * 16).decode()),  # padded
    ("nonce", base64.b64encode(b"\xfb\xff" * 8).decode().rstrip("=")),  # + and / alphabet
    ("nonce", ""),
    ("nonce", 16),
    ("body", []),
    ("body", "text"),
    ("body", None),
    ("sig", base64.b64encode(b"\x01" * 63).decode()),
    ("sig", base64.b64encode(b"\x01" * 65).decode()),
    ("sig", base64.b64encode(b"\x01" * 64).decode().rstrip("=")),  # unpadded
    ("sig", base64.b64encode(b"\x01" * 64).decode() + "="),  # over-padded
    ("sig", base64.urlsafe_b64encode(b"\xff" * 64).decode()),  # base64url alphabet
    ("sig", "AQ" + base64.b64encode(b"\x01" * 64).decode()[2:-3] + "AR=="),  # padding bits set
    ("sig", " " + base64.b64encode(b"\x01" * 64).decode()),
    ("sig", None),
    ("sig", ""),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={v!r}" for f, v in BAD_FIELDS])
def test_rejects_field_outside_schema(field: str, value: Any) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        envelope_from_dict(_with(**{field: value}))
    assert caught.value.code == "invalid-envelope"
    assert caught.value.extra["field"] == field


# A regex `$` also matches before a final newline, and `\d` matches any Unicode digit, so these
# slip past the patterns: one record would have several spellings of its org, type, key or time.
LOOSE_FIELDS: list[tuple[str, Any]] = [
    ("type", "beef.commission\n"),
    ("org", "au-meatworks\n"),
    ("key", SIGNER.key_id_hex + "\n"),
    ("nonce", _b64url(b"\x01" * 18) + "\n"),
    ("ts", "\uff12\uff10\uff12\uff16-11-28T08:30:00.000Z"),  # fullwidth digits
    ("ts", "\u0662\u0660\u0662\u0666-11-28T08:30:00.000Z"),  # Arabic-Indic digits
]


@pytest.mark.parametrize(("field", "value"), LOOSE_FIELDS, ids=[f for f, _ in LOOSE_FIELDS])
def test_rejects_trailing_newline_or_non_ascii_digits_in_fields(field: str, value: Any) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        envelope_from_dict(_with(**{field: value}))
    assert caught.value.extra["field"] == field


def test_rejects_envelope_that_is_not_an_object() -> None:
    not_objects: list[Any] = [[], "x", None, 1]
    for value in not_objects:
        with pytest.raises(InvalidEnvelope):
            envelope_from_dict(value)
    with pytest.raises(InvalidEnvelope):
        parse_envelope(b"[]")
    with pytest.raises(MalformedJSON):
        parse_envelope(b'{"v":1,"v":1}')


def _sized_envelope(total: int) -> dict[str, Any]:
    """An envelope dict whose canonical entry bytes are exactly `total` long."""
    base = _envelope(body={"blob": ""}).as_dict()
    pad = total - len(canonical_bytes(base))
    return {**base, "body": {"blob": "x" * pad}}


def test_accepts_envelope_of_exactly_64_kib() -> None:
    value = _sized_envelope(MAX_ENTRY_BYTES)
    assert len(envelope_from_dict(value).raw) == MAX_ENTRY_BYTES


def test_rejects_envelope_over_64_kib_as_payload_too_large() -> None:
    value = _sized_envelope(MAX_ENTRY_BYTES + 1)
    with pytest.raises(PayloadTooLarge) as caught:
        envelope_from_dict(value)
    assert caught.value.code == "payload-too-large"
    with pytest.raises(PayloadTooLarge):
        parse_envelope(canonical_bytes(value))
    with pytest.raises(PayloadTooLarge):
        sign_envelope(SIGNER, type="beef.commission", org="au-meatworks", body=value["body"])


# --- time and nonce helpers ---------------------------------------------------------------------


def test_format_ts_writes_utc_milliseconds_and_parse_ts_reads_it_back() -> None:
    moment = datetime(2026, 11, 28, 8, 30, 0, 123999, tzinfo=UTC)
    assert env_mod.format_ts(moment) == "2026-11-28T08:30:00.123Z"
    assert env_mod.parse_ts("2026-11-28T08:30:00.123Z") == moment.replace(microsecond=123000)


def test_new_nonce_is_16_random_bytes_of_unpadded_base64url() -> None:
    nonces = {env_mod.new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    for nonce in nonces:
        assert len(nonce) == 22 and "=" not in nonce
        assert len(base64.urlsafe_b64decode(nonce + "==")) == 16


def test_sign_envelope_fills_in_fresh_nonce_and_current_time() -> None:
    env = sign_envelope(SIGNER, type="beef.commission", org="au-meatworks", body={})
    assert abs((env_mod.parse_ts(env.ts) - datetime.now(UTC)).total_seconds()) < 60
    assert env.nonce != _envelope().nonce


@pytest.mark.parametrize("sig", ["é" * 88, "\u0660" * 88, "A" * 86 + "=\u00e9"])
def test_a_non_ascii_signature_is_an_invalid_envelope_not_a_crash(sig: str) -> None:
    """base64 raises a plain ValueError for non-ASCII text, which once escaped as a crash (a 500
    from the API, a traceback from `sealchain verify`)."""
    with pytest.raises(InvalidEnvelope) as caught:
        envelope_from_dict({**_envelope().as_dict(), "sig": sig})
    assert caught.value.extra["field"] == "sig"
