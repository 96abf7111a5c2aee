"""`ledger.plugin` is everything an app may use: growing or shrinking it is a decision, made
here on purpose, not by an import that happened to be handy."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ledger.plugin

SURFACE = [
    "App",
    "BatchedWorker",
    "Bench",
    "BenchRow",
    "ConfigError",
    "DirectRoute",
    "DriverQuery",
    "Home",
    "InvalidBody",
    "InvalidRequest",
    "JSONAnswer",
    "Ledger",
    "LedgerClient",
    "LedgerDep",
    "LedgerError",
    "Lines",
    "Localized",
    "Member",
    "MemberDep",
    "N_",
    "NotFound",
    "OneLine",
    "Paragraph",
    "PayloadTooLarge",
    "Projection",
    "RecordType",
    "SECURITY_HEADERS",
    "Scenario",
    "SequencedEntry",
    "Settings",
    "Site",
    "StateConflict",
    "Text",
    "Unauthenticated",
    "VerificationError",
    "VerifiedBundle",
    "attachment",
    "demo_plan",
    "find_member",
    "get_ledger",
    "init_home",
    "insert_rows",
    "is_head",
    "ledger_of",
    "list_members",
    "problem_responses",
    "read_transaction",
    "run_wrk",
    "script_json",
    "serving_hello",
    "serving_ledger",
    "tr",
    "utc_now",
    "verify_page_bundle",
    "worker_memory",
    "wrk_available",
    "write_transaction",
    "DocumentSigner",
    "Forbidden",
    "MinuteRateLimit",
    "RateLimited",
    "TimeStampAuthority",
    "TokenInvalid",
    "authenticate_member",
    "certificate_pem",
    "client_source",
    "ed25519_verifies_per_second",
    "parse_timestamp_query",
    "timestamp_granted",
    "timestamp_rejection",
    "verify_timestamp_token",
    "LedgerTimeStamper",
    "PdfVerdict",
    "Row",
    "Section",
    "render_certificate",
    "sign_pdf",
    "validate_pdf",
    "Accepted",
    "TimeStampQuery",
    "signer_public_key",
]


def test_the_plugin_surface_is_what_was_decided() -> None:
    assert sorted(ledger.plugin.__all__) == sorted(SURFACE)


def test_every_name_of_the_surface_exists() -> None:
    missing = [name for name in ledger.plugin.__all__ if not hasattr(ledger.plugin, name)]
    assert missing == []


def test_the_module_holds_nothing_public_beyond_its_surface() -> None:
    """A name imported into ledger.plugin but left out of __all__ would still be importable
    by an app, and so part of the surface in practice."""
    public = {
        name
        for name, value in vars(ledger.plugin).items()
        if not name.startswith("_") and not getattr(value, "__module__", "").startswith("typing")
    }
    extra = public - set(ledger.plugin.__all__) - {"annotations", "TYPE_CHECKING"}
    assert extra == set()


def test_pdf_signing_loads_on_first_use_not_with_every_command() -> None:
    """pyhanko (PDF signing) and alembic (migrations) took about 0.3 s of every command's
    start-up; `sealchain --help` and the apps' imports need neither."""
    probe = (
        "import sys, ledger.cli; "
        "print(sorted(m for m in ('pyhanko', 'alembic', 'aiohttp') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert ledger.plugin.sign_pdf.__module__ == "ledger.documents.signing"  # still there, lazily
    with pytest.raises(AttributeError, match="no_such_name"):
        ledger.plugin.no_such_name  # noqa: B018 - the attribute access is the test
