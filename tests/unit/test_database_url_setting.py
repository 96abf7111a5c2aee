"""SEALCHAIN_DATABASE_URL is checked when the settings are read, before a command writes or
connects anywhere: a URL for another database, or one whose driver is missing, is refused
with a sentence that names the cause and never repeats the URL (it may hold a password)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from ledger.config import Settings


def refusal(url: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=url)
    (error,) = caught.value.errors()
    assert error["loc"] == ("database_url",)
    message = str(error["msg"])
    assert "secret" not in message
    return message


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("garbage://", "'garbage'"),
        ("mysql://u:secret@h/db", "'mysql'"),
        ("http://u:secret@example.com/db", "'http'"),
        ("postgres://u:secret@h/db", "'postgres'"),  # SQLAlchemy's name is postgresql
    ],
)
def test_a_database_url_for_another_database_is_refused(url: str, named: str) -> None:
    message = refusal(url)
    assert "SQLite or PostgreSQL" in message and named in message


def test_a_database_url_that_is_not_a_url_is_refused() -> None:
    assert "not a database URL" in refusal("not a url with secret")


def test_a_database_url_for_an_unknown_driver_is_refused() -> None:
    assert "no driver 'postgresql+nosuchdriver'" in refusal("postgresql+nosuchdriver://h/db")


def test_a_database_url_for_an_asyncio_driver_is_refused() -> None:
    assert "asyncio driver" in refusal("postgresql+asyncpg://u:secret@h/db")


def test_a_database_url_whose_driver_is_not_installed_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(cls: type) -> object:
        raise ModuleNotFoundError("No module named 'psycopg'")

    monkeypatch.setattr(PGDialect_psycopg, "import_dbapi", classmethod(missing))
    message = refusal("postgresql+psycopg://u:secret@h/db")
    assert "driver for postgresql+psycopg is not installed" in message
    assert "No module named 'psycopg'" in message


@pytest.mark.parametrize(
    "url",
    ["sqlite:////tmp/ledger.db", "postgresql+psycopg://u:p@db.example:5432/ledger", ""],
)
def test_a_usable_database_url_is_kept(url: str) -> None:
    assert Settings(database_url=url).database_url == (url or None)
