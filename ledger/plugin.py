"""Everything an app may use of the ledger, in one place (docs/apps.md).

An app imports only this module and `ledger.core` (import-linter holds every app to that, and
keeps apps from importing each other). What is here is kept stable for apps; what is not here
may change without notice. A test pins `__all__`, so growing the surface is a decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.api.batched_worker import BatchedWorker
from ledger.api.deps import (
    Ledger,
    LedgerDep,
    MemberDep,
    authenticate_member,
    get_ledger,
    ledger_of,
)
from ledger.api.direct_route import DirectRoute
from ledger.api.i18n import N_, Localized, tr
from ledger.api.json_answer import JSONAnswer
from ledger.api.middleware import request_method as _request_method
from ledger.api.pages.embed import attachment, script_json
from ledger.api.pages.headers import SECURITY_HEADERS
from ledger.api.pages.site import Site
from ledger.api.problems import problem_responses
from ledger.api.ratelimit import MinuteRateLimit, client_source
from ledger.bench.api import serving_hello, serving_ledger
from ledger.bench.core import ed25519_verifies_per_second
from ledger.bench.loadgen import run_wrk, wrk_available
from ledger.bench.memory import worker_memory
from ledger.bench.report import BenchRow
from ledger.client import LedgerClient
from ledger.config import Settings
from ledger.core.keys import parse_vkey as _parse_vkey
from ledger.documents.pdf import Row, Section, render_certificate
from ledger.errors import (
    ConfigError,
    Forbidden,
    InvalidBody,
    InvalidRequest,
    LedgerError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    StateConflict,
    Unauthenticated,
    VerificationError,
)
from ledger.home import Home
from ledger.service.app import App, Bench, Projection, RecordType, Scenario, SequencedEntry
from ledger.service.bundles import VerifiedBundle, verify_page_bundle
from ledger.service.consortium import demo_plan
from ledger.service.fields import Lines, OneLine, Paragraph, Text
from ledger.service.node import init_home
from ledger.service.pipeline import utc_now
from ledger.service.sequencer import Accepted
from ledger.storage.driver_query import DriverQuery
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import MemberRow as Member
from ledger.storage.repository import Repository as _Repository
from ledger.storage.repository import insert_rows
from ledger.timestamping.pki import DocumentSigner
from ledger.timestamping.pki import cert_pem as certificate_pem
from ledger.timestamping.rfc3161 import TimeStampAuthority, TimeStampQuery, TokenInvalid
from ledger.timestamping.rfc3161 import granted as timestamp_granted
from ledger.timestamping.rfc3161 import parse_query as parse_timestamp_query
from ledger.timestamping.rfc3161 import rejection as timestamp_rejection
from ledger.timestamping.rfc3161 import verify_token as verify_timestamp_token

if TYPE_CHECKING:
    from fastapi import Request
    from sqlalchemy import Connection

    from ledger.documents.signing import LedgerTimeStamper, PdfVerdict, sign_pdf, validate_pdf

# Loaded when an app first asks for one of them (`__getattr__`): pyhanko and what it imports
# took about 0.2 s of every command's start-up, and most commands sign no PDF.
_PDF_SIGNING = frozenset({"LedgerTimeStamper", "PdfVerdict", "sign_pdf", "validate_pdf"})


def __getattr__(name: str) -> Any:
    if name in _PDF_SIGNING:
        from ledger.documents import signing

        return getattr(signing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def find_member(conn: Connection, org: str) -> Member | None:
    """The member `org` as the governance entries define it now (name, roles, active)."""
    return _Repository(conn).member(org)


def signer_public_key(conn: Connection, org: str, key_id: str) -> bytes | None:
    """The Ed25519 public key `org` holds under `key_id` (an envelope's `key`), or None: what
    binds a credential an app finds inside an entry to the member key that signed the entry."""
    found = _Repository(conn).key(org, key_id)
    return None if found is None else _parse_vkey(found.vkey).public_key


def list_members(conn: Connection) -> list[Member]:
    return _Repository(conn).all_members()


def is_head(request: Request) -> bool:
    """Whether the request is a HEAD (answered as a GET without a body): link previews and
    crawlers, not a person, so not a scan to count."""
    return _request_method(request.scope) == "HEAD"


__all__ = [
    "N_",
    "SECURITY_HEADERS",
    "Accepted",
    "App",
    "BatchedWorker",
    "Bench",
    "BenchRow",
    "ConfigError",
    "DirectRoute",
    "DocumentSigner",
    "DriverQuery",
    "Forbidden",
    "Home",
    "InvalidBody",
    "InvalidRequest",
    "JSONAnswer",
    "Ledger",
    "LedgerClient",
    "LedgerDep",
    "LedgerError",
    "LedgerTimeStamper",
    "Lines",
    "Localized",
    "Member",
    "MemberDep",
    "MinuteRateLimit",
    "NotFound",
    "OneLine",
    "Paragraph",
    "PayloadTooLarge",
    "PdfVerdict",
    "Projection",
    "RateLimited",
    "RecordType",
    "Row",
    "Scenario",
    "Section",
    "SequencedEntry",
    "Settings",
    "Site",
    "StateConflict",
    "Text",
    "TimeStampAuthority",
    "TimeStampQuery",
    "TokenInvalid",
    "Unauthenticated",
    "VerificationError",
    "VerifiedBundle",
    "attachment",
    "authenticate_member",
    "certificate_pem",
    "client_source",
    "demo_plan",
    "ed25519_verifies_per_second",
    "find_member",
    "get_ledger",
    "init_home",
    "insert_rows",
    "is_head",
    "ledger_of",
    "list_members",
    "parse_timestamp_query",
    "problem_responses",
    "read_transaction",
    "render_certificate",
    "run_wrk",
    "script_json",
    "serving_hello",
    "serving_ledger",
    "sign_pdf",
    "signer_public_key",
    "timestamp_granted",
    "timestamp_rejection",
    "tr",
    "utc_now",
    "validate_pdf",
    "verify_page_bundle",
    "verify_timestamp_token",
    "worker_memory",
    "write_transaction",
    "wrk_available",
]
