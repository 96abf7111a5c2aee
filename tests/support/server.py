"""Running a real `sealchain serve` subprocess on a free port for end-to-end tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.process import background_server, free_port, serve_command

SEALCHAIN = str(Path(sys.executable).with_name("sealchain"))
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def running_server(home: Path, database_url: str | None = None, workers: int = 1) -> Iterator[str]:
    """`sealchain serve` with the test app; yields the base URL once /healthz answers."""
    env = {
        "SEALCHAIN_EXTRA_APPS": "tests.support.sample_app:SAMPLE_APP",
        "PYTHONPATH": str(REPO),  # so the server can import the test app
    }
    if database_url:
        env["SEALCHAIN_DATABASE_URL"] = database_url
    port = free_port()
    command = serve_command(home, port, "--workers", str(workers))
    with background_server(command, port, env=env, log=home.parent / f"serve-{port}.log") as url:
        yield url


@contextmanager
def demo_server(root: Path) -> Iterator[tuple[str, Path]]:
    """A fresh demo-consortium home in `root/home`, served; yields (URL, home)."""
    from ledger.config import Settings
    from ledger.service.consortium import demo_plan
    from ledger.service.node import init_home

    home = root / "home"
    node, _ = init_home(Settings(home=home, database_url=None), demo_plan())
    node.close()
    with running_server(home) as url:
        yield url, home
