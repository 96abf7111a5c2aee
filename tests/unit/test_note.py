"""C2SP signed notes, verifier keys, checkpoints and tlog-cosignature/v1 (architecture.md §2)."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import keys, note
from ledger.core.keys import SIG_COSIGNATURE_V1, SIG_ED25519, Signer, Verifier, parse_vkey
from ledger.core.note import Checkpoint, Note, NoteSignature, parse_checkpoint, parse_note
from ledger.errors import NoteError

EXAMPLE = Path(__file__).resolve().parents[1] / "vectors" / "signed-note" / "example.txt"
ORIGIN = "sealchain.test/log"
ROOT = hashlib.sha256(b"root").digest()


def _example() -> tuple[str, str]:
    """(vkey, note text) from the C2SP example file."""
    header, _, signed = EXAMPLE.read_text(encoding="utf-8").partition("---\n")
    vkey_lines = [line for line in header.splitlines() if line.startswith("vkey: ")]
    assert len(vkey_lines) == 1
    return vkey_lines[0].removeprefix("vkey: "), signed


def _seeded(name: str, n: int, sig_type: int = SIG_ED25519) -> Signer:
    return Signer.from_seed(name, bytes([n]) * 32, sig_type)


def _raw_private(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)


def _vkey_for(name: str, public: bytes, sig_type: int = SIG_ED25519) -> str:
    """A vkey built by hand from the spec, with a correct key id for `name`."""
    kid = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([sig_type]) + public).decode()}"


# --- the C2SP example ---------------------------------------------------------------------------


def test_c2sp_example_note_verifies_with_its_vkey() -> None:
    vkey, signed = _example()
    verifier = parse_vkey(vkey)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id_hex == "530d903a"
    parsed = note.verify_note(signed, [verifier])
    assert parsed.text == "This is an example message.\n"
    assert note.verify_note(signed.encode(), [verifier]) == parsed


def test_c2sp_example_vkey_round_trips() -> None:
    vkey, _ = _example()
    assert parse_vkey(vkey).vkey == vkey


def test_rejects_note_with_one_changed_text_byte() -> None:
    vkey, signed = _example()
    tampered = signed.replace("example message", "example messagf")
    with pytest.raises(NoteError):
        note.verify_note(tampered, [parse_vkey(vkey)])


@given(st.data())
def test_rejects_note_with_any_flipped_text_bit(data: st.DataObject) -> None:
    vkey, signed = _example()
    raw = bytearray(signed.encode())
    text_len = len(parse_note(signed).text.encode())
    raw[data.draw(st.integers(0, text_len - 1))] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(NoteError):
        note.verify_note(bytes(raw), [parse_vkey(vkey)])


# --- which signatures count ---------------------------------------------------------------------


def test_ignores_signatures_from_unknown_keys() -> None:
    known, stranger = _seeded("sealchain.test/a", 1), _seeded("other.test/b", 2)
    signed = str(note.sign_note("hello\n", [stranger, known]))
    assert note.verified_signers(parse_note(signed), [known.verifier]) == [known.verifier]
    note.verify_note(signed, [known.verifier])


def test_ignores_bad_signature_from_a_key_sharing_only_the_name() -> None:
    # Per signed-note, (name, key id) identifies a key: a same-named impostor is merely unknown.
    known, impostor = _seeded("sealchain.test/a", 1), _seeded("sealchain.test/a", 2)
    good = note.sign_note("hello\n", [known])
    forged = NoteSignature(impostor.name, impostor.verifier.key_id, b"\x00" * 64)
    note.verify_note(good.with_signatures([forged]), [known.verifier])


def test_rejects_note_signed_only_by_unknown_keys() -> None:
    signed = str(note.sign_note("hello\n", [_seeded("other.test/b", 2)]))
    with pytest.raises(NoteError, match="not signed by any known key"):
        note.verify_note(signed, [_seeded("sealchain.test/a", 1).verifier])


def test_known_key_with_bad_signature_rejects_the_whole_note() -> None:
    # Even though another known key signed correctly, a failing known signature is an attack.
    a, b = _seeded("sealchain.test/a", 1), _seeded("sealchain.test/b", 2)
    good = note.sign_note("hello\n", [a])
    bad = NoteSignature(b.name, b.verifier.key_id, b.sign(b"something else\n"))
    with pytest.raises(NoteError, match="does not verify"):
        note.verify_note(good.with_signatures([bad]), [a.verifier, b.verifier])


def test_rejects_signature_of_wrong_length_from_known_key() -> None:
    a = _seeded("sealchain.test/a", 1)
    sig = a.sign(b"hello\n")
    for mangled in (sig[:-1], sig + b"\x00"):
        with pytest.raises(NoteError):
            note.verify_note(
                Note("hello\n", (NoteSignature(a.name, a.verifier.key_id, mangled),)), [a.verifier]
            )


# --- note syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "hello\n",  # no signatures
        "hello\n\n",  # blank line but no signature lines
        "hello\n— a/b AAAAAAAA\n",  # no blank line
        "hello\n\n— a/b AAAAAAAA",  # no final newline
        "hello\n\n- a/b AAAAAAAA\n",  # hyphen, not em dash
        "hello\n\n—a/b AAAAAAAA\n",
        "hello\n\n— a/b\n",
        "hello\n\n— a/b AAAA AAAA\n",
        "hello\n\n— a b AAAAAAAA\n",
        "hello\n\n— a+b AAAAAAAA\n",
        "hello\n\n— a/b AAAA\n",  # shorter than key id + 1 byte
        "hello\n\n— a/b !!!!!!!!\n",
        "hel\rlo\n\n— a/b AAAAAAAA\n",  # control character
        "hel\tlo\n\n— a/b AAAAAAAA\n",
    ],
)
def test_rejects_malformed_note(data: str) -> None:
    with pytest.raises(NoteError):
        parse_note(data)


def test_rejects_invalid_utf8_and_oversized_notes() -> None:
    with pytest.raises(NoteError):
        parse_note(b"hel\xfflo\n\n\xe2\x80\x94 a/b AAAAAAAA\n")
    with pytest.raises(NoteError):
        parse_note(b"x" * (note.MAX_NOTE_BYTES + 1))
    with pytest.raises(NoteError):
        parse_note("hello\ud800\n\n— a/b AAAAAAAA\n")


def test_accepts_at_least_16_signatures_and_caps_the_count() -> None:
    line = "— a/b AAAAAAAA\n"
    assert len(parse_note("hi\n\n" + line * 16).signatures) == 16
    with pytest.raises(NoteError):
        parse_note("hi\n\n" + line * (note.MAX_SIGNATURES + 1))


def test_text_is_split_at_the_last_blank_line() -> None:
    signer = _seeded("sealchain.test/a", 1)
    text = "para one\n\npara two\n"
    parsed = parse_note(str(note.sign_note(text, [signer])))
    assert parsed.text == text
    note.verify_note(parsed, [signer.verifier])


@pytest.mark.parametrize(
    "data",
    [
        "hello\n\n— a/b \u00e9AAAAAAA\n",  # a non-ASCII character inside the base64
        "hello\n\n— a/b AAAA\uff21AAA\n",
    ],
)
def test_rejects_non_ascii_signature_base64_as_note_error(data: str) -> None:
    # Untrusted input must fail as NoteError (a 422), never as a bare ValueError (a 500).
    with pytest.raises(NoteError):
        parse_note(data)


key_names = st.text(
    alphabet=st.characters(codec="utf-8", min_codepoint=0x21, exclude_characters="+"),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() or c == "\x7f" for c in s))
text_lines = st.text(alphabet=st.characters(codec="utf-8", min_codepoint=0x20), max_size=30)


@given(
    st.lists(text_lines, min_size=1, max_size=6),
    st.lists(
        st.builds(
            NoteSignature,
            key_names,
            st.binary(min_size=4, max_size=4),
            st.binary(min_size=1, max_size=80),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_parse_note_round_trips(lines: list[str], signatures: list[NoteSignature]) -> None:
    original = Note("\n".join(lines) + "\n", tuple(signatures))
    assert parse_note(str(original)) == original
    assert parse_note(str(original).encode()) == original


# --- verifier keys ------------------------------------------------------------------------------


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    signer = _seeded("sealchain.test/org/au-meatworks", 7)
    public = signer.verifier.public_key
    expected = hashlib.sha256(b"sealchain.test/org/au-meatworks\n\x01" + public).digest()[:4]
    assert signer.verifier.key_id == expected
    assert keys.key_id(signer.name, public) == expected
    assert signer.vkey == _vkey_for(signer.name, public)
    cosigner = _seeded("sealchain.test/witness", 7, SIG_COSIGNATURE_V1)
    assert (
        cosigner.verifier.key_id
        == (hashlib.sha256(b"sealchain.test/witness\n\x04" + public).digest()[:4])
    )


def test_vkey_round_trips() -> None:
    for signer in (_seeded("a.test/x", 3), _seeded("a.test/w", 4, SIG_COSIGNATURE_V1)):
        parsed = parse_vkey(signer.vkey)
        assert parsed == signer.verifier
        assert parsed.sig_type == signer.sig_type
        assert parsed.vkey == signer.vkey


def test_vkey_with_plus_in_its_base64_key_parses() -> None:
    # Standard base64 uses '+': only the first two '+' separate the parts.
    signer = _seeded("a.test/x", 8)
    assert "+" in signer.vkey.split("+", 2)[2]
    assert parse_vkey(signer.vkey) == signer.verifier


def test_vkey_rejects_key_id_that_does_not_match() -> None:
    signer = _seeded("a.test/x", 3)
    name, kid, material = signer.vkey.split("+")
    wrong = f"{int(kid, 16) ^ 1:08x}"
    with pytest.raises(NoteError, match="does not match"):
        parse_vkey(f"{name}+{wrong}+{material}")
    other = _seeded("a.test/x", 4)  # the right name and id format, another key's id
    with pytest.raises(NoteError, match="does not match"):
        parse_vkey(f"{name}+{other.key_id_hex}+{material}")


@pytest.mark.parametrize("kid", ["530d903", "530d903a0", "530d90zz", "", "530d 03a"])
def test_vkey_rejects_malformed_key_id(kid: str) -> None:
    material = base64.b64encode(b"\x01" + b"\x00" * 32).decode()
    with pytest.raises(NoteError):
        parse_vkey(f"example.com/foo+{kid}+{material}")


@pytest.mark.parametrize(
    "material",
    [
        "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  # truncated base64
        "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U=",  # bad padding
        "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2!",
        "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2\u00e9",
    ],
)
def test_vkey_rejects_bad_base64(material: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(f"example.com/foo+530d903a+{material}")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_vkey_rejects_wrong_key_length(length: int) -> None:
    public = b"\x07" * length
    with pytest.raises(NoteError):
        parse_vkey(_vkey_for("a.test/x", public))


def test_vkey_rejects_unsupported_signature_type() -> None:
    public = _seeded("a.test/x", 1).verifier.public_key
    for sig_type in (0x00, 0x02, 0x05, 0xFF):
        with pytest.raises(NoteError):
            parse_vkey(_vkey_for("a.test/x", public, sig_type))


@pytest.mark.parametrize(
    "name", ["a test/x", "a.test/x\u00a0y", "a.test/\u3000", "tab\there", "nl\nx", "del\x7f"]
)
def test_vkey_rejects_names_with_spaces_or_control_characters(name: str) -> None:
    public = _seeded("a.test/x", 1).verifier.public_key
    with pytest.raises(NoteError):
        parse_vkey(_vkey_for(name, public))


def test_vkey_rejects_names_with_plus() -> None:
    public = _seeded("a.test/x", 1).verifier.public_key
    with pytest.raises(NoteError):
        parse_vkey(_vkey_for("a+b.test/x", public))
    with pytest.raises(NoteError):
        Signer.from_seed("a+b.test/x", b"\x01" * 32)


def test_signer_and_verifier_refuse_bad_names_and_keys() -> None:
    with pytest.raises(NoteError):
        Verifier("", b"\x00" * 32)
    with pytest.raises(NoteError):
        Verifier("a.test/x", b"\x00" * 31)
    with pytest.raises(NoteError):
        Signer.from_seed("has space", b"\x01" * 32)


def test_private_key_pem_round_trips_with_passphrase() -> None:
    signer = _seeded("a.test/x", 5)
    pem = signer.to_pem(b"correct horse")
    assert b"ENCRYPTED" in pem
    loaded = Signer.from_pem("a.test/x", pem, b"correct horse")
    assert loaded.vkey == signer.vkey
    with pytest.raises(NoteError):
        Signer.from_pem("a.test/x", pem, b"wrong")
    with pytest.raises(NoteError):
        Signer.from_pem("a.test/x", b"not a pem")


# --- checkpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest()),
        Checkpoint(ORIGIN, 20852163, ROOT),
        Checkpoint(ORIGIN, 2**63, ROOT, ("ext one", "ext two")),
    ],
)
def test_checkpoint_text_round_trips(checkpoint: Checkpoint) -> None:
    text = checkpoint.text()
    assert text.endswith("\n")
    assert text.split("\n")[:3] == [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root).decode(),
    ]
    assert parse_checkpoint(text) == checkpoint


@pytest.mark.parametrize(
    "size_line", ["01", "00", "-1", "+1", "1.0", " 1", "1 ", "", "\uff11", "\u0661", "0x10"]
)
def test_checkpoint_rejects_size_that_is_not_plain_decimal(size_line: str) -> None:
    # Two spellings of one size would give two signed texts for one tree.
    root = base64.b64encode(ROOT).decode()
    with pytest.raises(NoteError):
        parse_checkpoint(f"{ORIGIN}\n{size_line}\n{root}\n")


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n5\n",  # no root line
        f"{ORIGIN}\n",
        "",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}",  # no final newline
        f"\n5\n{base64.b64encode(ROOT).decode()}\n",  # empty origin
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\n\n",  # empty extension line
    ],
)
def test_checkpoint_rejects_missing_lines(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "root_line",
    [
        base64.b64encode(ROOT[:31]).decode(),
        base64.b64encode(ROOT + b"\x00").decode(),
        "",
        "not base64!",
        base64.b64encode(ROOT).decode().rstrip("="),
    ],
)
def test_checkpoint_rejects_root_that_is_not_32_bytes_of_base64(root_line: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(f"{ORIGIN}\n5\n{root_line}\n")


def test_checkpoint_rejects_non_ascii_root_as_note_error() -> None:
    root = base64.b64encode(ROOT).decode()
    with pytest.raises(NoteError):
        parse_checkpoint(f"{ORIGIN}\n5\n\u00e9{root[1:]}\n")


def test_open_checkpoint_accepts_the_logs_own_checkpoint() -> None:
    log = _seeded(ORIGIN, 9)
    signed = str(note.sign_note(Checkpoint(ORIGIN, 5, ROOT).text(), [log]))
    _, checkpoint = note.open_checkpoint(signed, log.verifier)
    assert checkpoint == Checkpoint(ORIGIN, 5, ROOT)


def test_open_checkpoint_requires_origin_to_equal_log_key_name() -> None:
    # A log key must not be usable to vouch for another log's tree.
    log = _seeded(ORIGIN, 9)
    signed = str(note.sign_note(Checkpoint("other.test/log", 5, ROOT).text(), [log]))
    with pytest.raises(NoteError, match="origin"):
        note.open_checkpoint(signed, log.verifier)


def test_open_checkpoint_rejects_checkpoint_signed_by_another_key() -> None:
    log, other = _seeded(ORIGIN, 9), _seeded(ORIGIN, 10)
    signed = str(note.sign_note(Checkpoint(ORIGIN, 5, ROOT).text(), [other]))
    with pytest.raises(NoteError, match="not signed"):
        note.open_checkpoint(signed, log.verifier)


# --- cosignatures -------------------------------------------------------------------------------


def test_cosignature_signs_exactly_header_time_line_and_checkpoint_text() -> None:
    raw = _raw_private(11)
    witness = Signer("witness.test/w1", raw, SIG_COSIGNATURE_V1)
    text = Checkpoint(ORIGIN, 20852163, ROOT).text()
    sig = note.cosign(text, witness, 1679315147)
    assert sig.name == "witness.test/w1"
    assert sig.key_id == witness.verifier.key_id
    assert sig.signature[:8] == struct.pack(">Q", 1679315147)
    assert len(sig.signature) == 8 + 64
    message = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    raw.public_key().verify(sig.signature[8:], message)  # raises InvalidSignature if not
    assert note.cosignature_time(sig) == 1679315147


def test_cosigned_checkpoint_verifies_with_the_witness_key() -> None:
    log = _seeded(ORIGIN, 9)
    witness = _seeded("witness.test/w1", 11, SIG_COSIGNATURE_V1)
    signed = note.sign_note(Checkpoint(ORIGIN, 5, ROOT).text(), [log])
    cosigned = parse_note(str(signed.with_signatures([note.cosign(signed.text, witness, 7)])))
    assert note.verified_signers(cosigned, [log.verifier, witness.verifier]) == [
        log.verifier,
        witness.verifier,
    ]
    note.open_checkpoint(str(cosigned), log.verifier)


def test_rejects_cosignature_with_altered_timestamp() -> None:
    # A witness's statement is "as of time t"; moving t must break it.
    witness = _seeded("witness.test/w1", 11, SIG_COSIGNATURE_V1)
    text = Checkpoint(ORIGIN, 5, ROOT).text()
    sig = note.cosign(text, witness, 1000)
    for t in (999, 1001, 0, 2**62):
        moved = NoteSignature(sig.name, sig.key_id, struct.pack(">Q", t) + sig.signature[8:])
        with pytest.raises(NoteError):
            note.verify_note(Note(text, (moved,)), [witness.verifier])


def test_rejects_cosignature_with_timestamp_at_or_above_2_pow_63() -> None:
    witness = _seeded("witness.test/w1", 11, SIG_COSIGNATURE_V1)
    text = Checkpoint(ORIGIN, 5, ROOT).text()
    with pytest.raises(NoteError):
        note.cosign(text, witness, 2**63)
    with pytest.raises(NoteError):
        note.cosign(text, witness, -1)
    # Even a signature made over that time line is refused when verifying.
    big = 2**63
    forged = witness.sign(b"cosignature/v1\ntime %d\n" % big + text.encode())
    sig = NoteSignature(witness.name, witness.verifier.key_id, struct.pack(">Q", big) + forged)
    with pytest.raises(NoteError):
        note.verify_note(Note(text, (sig,)), [witness.verifier])


def test_plain_signature_is_not_accepted_as_a_cosignature() -> None:
    # The same key registered as a witness (type 0x04) must not accept a type-0x01 signature.
    raw = _raw_private(11)
    witness = Signer("witness.test/w1", raw, SIG_COSIGNATURE_V1)
    text = Checkpoint(ORIGIN, 5, ROOT).text()
    plain = NoteSignature(witness.name, witness.verifier.key_id, raw.sign(text.encode()))
    with pytest.raises(NoteError):
        note.verify_note(Note(text, (plain,)), [witness.verifier])


def test_signers_are_used_only_for_their_signature_type() -> None:
    text = Checkpoint(ORIGIN, 5, ROOT).text()
    with pytest.raises(NoteError):
        note.cosign(text, _seeded("witness.test/w1", 11), 5)  # type 0x01 cannot cosign
    with pytest.raises(NoteError):
        note.sign_note(text, [_seeded("witness.test/w1", 11, SIG_COSIGNATURE_V1)])
    with pytest.raises(NoteError):
        note.sign_note("no newline", [_seeded(ORIGIN, 9)])


def test_with_signatures_does_not_duplicate_a_key() -> None:
    witness = _seeded("witness.test/w1", 11, SIG_COSIGNATURE_V1)
    signed = note.sign_note(Checkpoint(ORIGIN, 5, ROOT).text(), [_seeded(ORIGIN, 9)])
    once = signed.with_signatures([note.cosign(signed.text, witness, 7)])
    twice = once.with_signatures([note.cosign(signed.text, witness, 8)])
    assert twice == once
