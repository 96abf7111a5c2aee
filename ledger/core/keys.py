"""Ed25519 keys, key ids and verifier-key ("vkey") strings, exactly as C2SP signed-note.

    key id = SHA-256(name || 0x0A || sig_type || public key)[:4]
    vkey   = name + "+" + hex8(key id) + "+" + base64(sig_type || public key)

Member and log keys use signature type 0x01 (plain Ed25519); witness cosigners use 0x04
(c2sp.org/tlog-cosignature, timestamped Ed25519).  This module does no I/O: PEM text in, PEM
text out; writing files with the right mode is the caller's job (ledger.keystore).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import NoteError

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64


def b64decode_strict(text: str) -> bytes:
    """Standard base64 with one spelling only; raises binascii.Error for anything else."""
    if not isinstance(text, str) or not text.isascii():
        raise binascii.Error("base64 must be ASCII text")
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode() != text:
        raise binascii.Error("base64 is not in canonical form")
    return data


def check_key_name(name: str) -> None:
    """Raise NoteError unless `name` is a valid signed-note key name (non-empty, no space or +)."""
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty without spaces or '+'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise NoteError(f"key name {name!r} contains control characters")


def key_id(name: str, public_key: bytes, sig_type: int = SIG_ED25519) -> bytes:
    """The 4-byte C2SP key id of (name, signature type, public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A public key as a note verifier: (name, key id) identify it, `verify` checks bytes."""

    name: str
    public_key: bytes
    sig_type: int = SIG_ED25519
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)
    # Computed once: the key id is compared on every envelope a verifier checks.
    _key_id: bytes = field(init=False, repr=False, compare=False)
    _key_id_hex: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.sig_type not in (SIG_ED25519, SIG_COSIGNATURE_V1):
            raise NoteError(f"unsupported signature type 0x{self.sig_type:02x}")
        if len(self.public_key) != PUBLIC_KEY_LEN:
            raise NoteError("Ed25519 public key must be 32 bytes")
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))
        identifier = key_id(self.name, self.public_key, self.sig_type)
        object.__setattr__(self, "_key_id", identifier)
        object.__setattr__(self, "_key_id_hex", identifier.hex())

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def key_id_hex(self) -> str:
        return self._key_id_hex

    @property
    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id_hex}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if `signature` is a valid Ed25519 signature of `message` by this key."""
        if len(signature) != SIGNATURE_LEN:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(text: str) -> Verifier:
    """Parse a vkey string; raises NoteError if malformed or its key id does not match."""
    # The name has no '+', the hex id neither; base64 material may, so split at the first two.
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"vkey {text[:60]!r} must have three '+'-separated parts")
    name, id_hex, material_b64 = parts
    try:
        material = b64decode_strict(material_b64)
        claimed_id = bytes.fromhex(id_hex)
    except (binascii.Error, ValueError) as e:
        raise NoteError(f"vkey {name!r} has bad hex or base64") from e
    if len(claimed_id) != 4 or len(id_hex) != 8:
        raise NoteError(f"vkey {name!r} key id must be 8 hex digits")
    if len(material) != 1 + PUBLIC_KEY_LEN:
        raise NoteError(f"vkey {name!r} must carry a type byte and a 32-byte Ed25519 key")
    try:
        verifier = Verifier(name, material[1:], material[0])
    except ValueError as e:
        raise NoteError(f"vkey {name!r}: {e}") from e
    if verifier.key_id != claimed_id:
        raise NoteError(f"vkey {name!r} key id does not match its name and key")
    return verifier


class Signer:
    """An Ed25519 private key with a signed-note key name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, sig_type: int = SIG_ED25519):
        check_key_name(name)
        self.name = name
        self.sig_type = sig_type
        self._key = private_key
        public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = Verifier(name, public, sig_type)

    @classmethod
    def generate(cls, name: str, sig_type: int = SIG_ED25519) -> Signer:
        return cls(name, Ed25519PrivateKey.generate(), sig_type)

    @classmethod
    def from_seed(cls, name: str, seed: bytes, sig_type: int = SIG_ED25519) -> Signer:
        """Deterministic key from a 32-byte seed: for tests and reproducible fixtures only."""
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed), sig_type)

    @property
    def key_id_hex(self) -> str:
        return self.verifier.key_id_hex

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with the best available scheme when a passphrase is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(
        cls, name: str, pem: bytes, passphrase: bytes | None = None, sig_type: int = SIG_ED25519
    ) -> Signer:
        """Load a PKCS#8 PEM Ed25519 key; raises NoteError if not one or the passphrase fails."""
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as e:
            raise NoteError(f"cannot load private key {name!r}: {e}") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise NoteError(f"private key {name!r} is not Ed25519")
        return cls(name, key, sig_type)
