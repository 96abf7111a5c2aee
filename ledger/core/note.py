"""C2SP signed notes, tlog checkpoints and tlog-cosignature/v1 (timestamped Ed25519) lines.

A note is text ending in a newline, a blank line, then lines `— <name> base64(keyid || sig)`.
Verification follows signed-note exactly: signatures from unknown (name, key id) pairs are ignored,
a known key whose signature fails rejects the whole note, and at least one known key must verify.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.core.keys import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    Signer,
    Verifier,
    b64decode_strict,
    check_key_name,
)
from ledger.core.merkle import HASH_LEN
from ledger.errors import NoteError

SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 64
MAX_NOTE_BYTES = 64 * 1024
COSIGNATURE_HEADER = b"cosignature/v1\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the key id: 64 bytes, or 8 + 64 for a cosignature

    def line(self) -> str:
        payload = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {payload}\n"


@dataclass(frozen=True)
class Note:
    text: str  # includes its final newline
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, extra: Iterable[NoteSignature]) -> Note:
        known = {(s.name, s.key_id) for s in self.signatures}
        added = [s for s in extra if (s.name, s.key_id) not in known]
        return Note(self.text, self.signatures + tuple(added))


def _check_text(text: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note contains control characters other than newline")


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signature lines; raises NoteError if malformed."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise NoteError("note is too large")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NoteError("note is not valid UTF-8") from e
    if len(data.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise NoteError("note is too large")
    try:
        data.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NoteError("note is not valid UTF-8") from e
    _check_text(data)
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise NoteError("note has no blank line before its signatures")
    text, sig_block = data[: split + 1], data[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise NoteError("note has no signatures")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIG_PREFIX):
        raise NoteError(f"signature line {line[:40]!r} does not start with an em dash")
    name, sep, payload_b64 = line[len(SIG_PREFIX) :].partition(" ")
    if not sep or " " in payload_b64:
        raise NoteError("signature line must be '— <name> <base64>'")
    check_key_name(name)
    try:
        payload = b64decode_strict(payload_b64)
    except binascii.Error as e:
        raise NoteError(f"signature by {name!r} is not base64") from e
    if len(payload) < 5:
        raise NoteError(f"signature by {name!r} is too short")
    return NoteSignature(name, payload[:4], payload[4:])


def sign_note(text: str, signers: Sequence[Signer]) -> Note:
    """Sign note text (which must end in a newline) with plain Ed25519 note signatures."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_text(text)
    sigs = []
    for signer in signers:
        if signer.sig_type != SIG_ED25519:
            raise NoteError("sign_note takes Ed25519 (type 0x01) signers; use cosign for witnesses")
        sigs.append(NoteSignature(signer.name, signer.verifier.key_id, signer.sign(text.encode())))
    return Note(text, tuple(sigs))


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return COSIGNATURE_HEADER + f"time {timestamp}\n".encode() + text.encode()


def cosign(note_text: str, signer: Signer, timestamp: int) -> NoteSignature:
    """A tlog-cosignature/v1 line: Ed25519 over header, time line and checkpoint text."""
    if signer.sig_type != SIG_COSIGNATURE_V1:
        raise NoteError("cosigners use signature type 0x04 keys")
    if not 0 <= timestamp < 2**63:
        raise NoteError("cosignature timestamp out of range")
    sig = signer.sign(_cosigned_message(note_text, timestamp))
    return NoteSignature(signer.name, signer.verifier.key_id, struct.pack(">Q", timestamp) + sig)


def _verify_one(note: Note, sig: NoteSignature, verifier: Verifier) -> bool:
    if verifier.sig_type == SIG_COSIGNATURE_V1:
        if len(sig.signature) != 8 + 64:
            return False
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        if timestamp >= 2**63:
            return False
        return verifier.verify(_cosigned_message(note.text, timestamp), sig.signature[8:])
    return verifier.verify(note.text.encode(), sig.signature)


def verified_signers(note: Note, verifiers: Iterable[Verifier]) -> list[Verifier]:
    """Known verifiers whose signatures on `note` verify.

    Raises NoteError if a known key's signature fails (the note is malformed per signed-note).
    Returns an empty list when no known key signed: callers decide whether that is fatal.
    """
    by_id = {(v.name, v.key_id): v for v in verifiers}
    good: list[Verifier] = []
    for sig in note.signatures:
        verifier = by_id.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not _verify_one(note, sig, verifier):
            raise NoteError(f"signature by known key {sig.name!r} does not verify")
        if verifier not in good:
            good.append(verifier)
    return good


def verify_note(note: Note | str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse if needed and require at least one known key to sign; raises NoteError."""
    parsed = note if isinstance(note, Note) else parse_note(note)
    if not verified_signers(parsed, verifiers):
        raise NoteError("note is not signed by any known key")
    return parsed


def cosignature_time(sig: NoteSignature) -> int:
    if len(sig.signature) != 8 + 64:
        raise NoteError("not a cosignature")
    value: int = struct.unpack(">Q", sig.signature[:8])[0]
    return value


# --- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (without signatures); raises NoteError if malformed."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root lines")
    origin, size_text, root_b64, *ext = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if (
        not size_text.isdigit()
        or not size_text.isascii()
        or (size_text != "0" and size_text.startswith("0"))
    ):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
    try:
        root = b64decode_strict(root_b64)
    except binascii.Error as e:
        raise NoteError("checkpoint root is not base64") from e
    if len(root) != HASH_LEN:
        raise NoteError("checkpoint root is not 32 bytes")
    if any(not line for line in ext):
        raise NoteError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, int(size_text), root, tuple(ext))


def open_checkpoint(note_text: str | bytes, log: Verifier) -> tuple[Note, Checkpoint]:
    """Verify the log's signature on a checkpoint note and parse it; raises NoteError.

    The origin line must equal the log key's name: a key signs only its own log.
    """
    note = parse_note(note_text)
    if not verified_signers(note, [log]):
        raise NoteError(f"checkpoint is not signed by the log key {log.name}")
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != log.name:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the log {log.name!r}")
    return note, checkpoint
