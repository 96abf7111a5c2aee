"""RFC 3161 TimeStampReq, as `openssl ts -query` writes it: for the benchmark, the scenario and
clients written in Python."""

from __future__ import annotations

import secrets

from asn1crypto import tsp


def timestamp_query(digest: bytes, *, nonce: bool = True, cert_req: bool = True) -> bytes:
    """DER of a request for a token on the SHA-256 `digest` (with a random 64-bit nonce)."""
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest,
            },
            "nonce": secrets.randbits(64) if nonce else None,
            "cert_req": cert_req,
        }
    )
    der: bytes = request.dump()
    return der
