"""Signed member requests: which bytes a member signs to read raw entries and blocks.

Headers:
    Sealchain-Org        org id
    Sealchain-Key        hex8 key id of one of the org's keys
    Sealchain-Time       ledger time (YYYY-MM-DDTHH:MM:SS.mmmZ), within the skew window
    Sealchain-Signature  base64 Ed25519 signature of the message below

Message (domain-separated, one field per line):
    sealchain/read/v1
    <METHOD>
    <path>
    <raw query string, "" if none>
    <hex SHA-256 of the request body>
    <time>
    <org>
    <key id>
"""

from __future__ import annotations

import base64
import hashlib

from ledger.core.keys import Signer

DOMAIN = "sealchain/read/v1"
HEADER_ORG = "Sealchain-Org"
HEADER_KEY = "Sealchain-Key"
HEADER_TIME = "Sealchain-Time"
HEADER_SIGNATURE = "Sealchain-Signature"


def request_message(
    method: str, path: str, query: str, body: bytes, time: str, org: str, key_id: str
) -> bytes:
    fields = [
        DOMAIN,
        method.upper(),
        path,
        query,
        hashlib.sha256(body).hexdigest(),
        time,
        org,
        key_id,
    ]
    return ("\n".join(fields) + "\n").encode()


def sign_request(
    signer: Signer, org: str, method: str, path: str, query: str, body: bytes, time: str
) -> dict[str, str]:
    """The four headers that authenticate a member request."""
    message = request_message(method, path, query, body, time, org, signer.key_id_hex)
    return {
        HEADER_ORG: org,
        HEADER_KEY: signer.key_id_hex,
        HEADER_TIME: time,
        HEADER_SIGNATURE: base64.b64encode(signer.sign(message)).decode(),
    }
