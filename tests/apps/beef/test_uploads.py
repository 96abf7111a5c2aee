"""Against a real `sealchain serve`: a label photo is uploaded and its scan page opened, as a
shopper's phone does, and the server is stopped as a supervisor stops it (SIGTERM)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from apps.beef.qr import qr_png
from apps.beef.tables import scan_sources
from ledger.storage.engine import read_transaction
from tests.support.beef import beef_world
from tests.support.server import running_server

SCANS = 10


@pytest.mark.parametrize("workers", [1, 2])
def test_every_scan_is_counted_after_the_server_is_stopped(
    tmp_path: Path, db_url: str | None, workers: int
) -> None:
    """Counts wait in memory for up to a second; a SIGTERM must not drop them."""
    world = beef_world(tmp_path / "home", db_url)
    (pack,) = world.commission(1)
    world.node.close()
    with running_server(tmp_path / "home", db_url, workers=workers) as url:
        label = qr_png(url + pack.removeprefix("https://id.gs1.org"))
        for n in range(SCANS):
            # a new connection each time, so that with two workers both see scans; each phone
            # on its own network (the server trusts the address a loopback proxy forwards)
            found = httpx.post(
                url + "/v1/beef/scan", files={"photo": ("label.png", label, "image/png")}
            )
            assert found.status_code == 303, found.text
            page = httpx.get(
                url + found.headers["location"],
                headers={"accept": "application/json", "x-forwarded-for": f"198.51.100.{n}"},
            )
            assert page.status_code == 200, page.text
        if workers == 1:  # stored plus pending: what the shopper is shown
            assert page.json()["scans"]["sources"] == SCANS
    # running_server has sent SIGTERM and waited for the server to exit
    with read_transaction(world.node.engine) as conn:
        stored = conn.execute(
            select(func.count()).select_from(scan_sources).where(scan_sources.c.uri == pack)
        ).scalar_one()
    world.node.close()
    assert stored == SCANS
