"""Fixtures for the evidence app: a demo-consortium ledger, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.evidence import EvidenceWorld, evidence_world


@pytest.fixture
def world(tmp_path: Path, db_url: str | None) -> Iterator[EvidenceWorld]:
    built = evidence_world(tmp_path / "home", db_url)
    yield built
    built.node.close()
