"""The ledger's RFC 3161 timestamping authority and the small PKI behind it (docs/timestamping.md).

`pki` makes the consortium's CA, the TSA certificate and document-signing certificates;
`rfc3161` reads timestamp queries and writes tokens and replies that `openssl ts` accepts.
"""

from __future__ import annotations

from ledger.timestamping.pki import DocumentSigner, Pki, load_or_create_pki
from ledger.timestamping.rfc3161 import (
    TimeStampAuthority,
    TimeStampQuery,
    TokenInfo,
    parse_query,
    verify_token,
)

__all__ = [
    "DocumentSigner",
    "Pki",
    "TimeStampAuthority",
    "TimeStampQuery",
    "TokenInfo",
    "load_or_create_pki",
    "parse_query",
    "verify_token",
]
