"""Fixtures for the app tests: a demo-consortium ledger with the beef app, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.beef import BeefWorld, beef_world


@pytest.fixture
def world(tmp_path: Path, db_url: str | None) -> Iterator[BeefWorld]:
    """A fresh beef world (genesis only) on SQLite and on PostgreSQL (the `db_url` fixture)."""
    built = beef_world(tmp_path / "home", db_url)
    yield built
    built.node.close()
