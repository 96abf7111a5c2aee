"""Shared fixtures: every integration test that takes `db_url` runs on SQLite and PostgreSQL.

PostgreSQL comes from SEALCHAIN_TEST_PG_URL (an admin URL; each test gets its own database).
Without it the postgres tests skip, unless SEALCHAIN_REQUIRE_POSTGRES=1 (set by .ci/run), in
which case they fail: CI must never pass with the PostgreSQL half silently skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.ledgers import LedgerFixture, make_ledger

PG_URL = os.environ.get("SEALCHAIN_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("SEALCHAIN_REQUIRE_POSTGRES") == "1"
SAMPLE_APP_SPEC = "tests.support.sample_app:SAMPLE_APP"


def _need_pg() -> None:
    if PG_URL:
        return
    if REQUIRE_PG:
        pytest.fail("SEALCHAIN_REQUIRE_POSTGRES=1 but SEALCHAIN_TEST_PG_URL is not set")
    pytest.skip("PostgreSQL not configured: set SEALCHAIN_TEST_PG_URL (see DEVELOPERS.md)")


def create_pg_database(template: str | None = None) -> str:
    """A fresh database on the test server; returns its URL."""
    _need_pg()
    name = f"sealchain_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        suffix = f" TEMPLATE {template}" if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None means the home's default SQLite file; otherwise a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(autouse=True)
def _sample_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """So that CLI commands run in-process see the test app the ledgers are built with."""
    monkeypatch.setenv("SEALCHAIN_EXTRA_APPS", SAMPLE_APP_SPEC)


@pytest.fixture
def ledger(tmp_path: Path, db_url: str | None) -> Iterator[LedgerFixture]:
    built = make_ledger(tmp_path / "home", db_url)
    yield built
    built.close()
