"""Fixtures for the certs app: a demo-consortium ledger with two accredited bodies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.certs import CertsWorld, certs_world


@pytest.fixture
def world(tmp_path: Path, db_url: str | None) -> Iterator[CertsWorld]:
    built = certs_world(tmp_path / "home", db_url)
    yield built
    built.node.close()
