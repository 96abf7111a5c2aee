"""docs/apps.md's worked example, end to end as its users would run it: the sample app is
installed by one entry point (no SEALCHAIN_EXTRA_APPS), a writer is admitted by governance,
claims an item, and `reindex`, `audit --projections` and the item's page (in Chromium) work."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.core.keys import parse_vkey
from ledger.process import background_server, free_port, serve_command
from tests.support.browser import chromium

REPO = Path(__file__).resolve().parents[2]
SEALCHAIN = str(Path(sys.executable).with_name("sealchain"))
SAMPLE = REPO / "tests" / "support" / "sample_app.py"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_sample_app_imports_only_the_plugin_surface_and_the_core() -> None:
    tree = ast.parse(SAMPLE.read_text(encoding="utf-8"))
    ledger_imports = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ledger")
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("ledger")
    }
    assert "ledger.plugin" in ledger_imports
    outside = [
        m for m in ledger_imports if m != "ledger.plugin" and not m.startswith("ledger.core")
    ]
    assert outside == []


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """An environment where the sample app is installed the way any app is: a distribution
    whose entry_points.txt names it in the `sealchain.apps` group."""
    dist = tmp_path / "site" / "sealchain_sample-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sealchain-sample\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[sealchain.apps]\nsample = tests.support.sample_app:SAMPLE_APP\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALCHAIN_")}
    env["SEALCHAIN_EXTRA_APPS"] = ""  # explicitly none: the entry point alone brings the app
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), str(REPO)])
    return env


def sealchain(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALCHAIN, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def served(tmp_path: Path, installed: dict[str, str]) -> Iterator[tuple[str, Path, dict[str, str]]]:
    home = tmp_path / "home"
    done = sealchain(installed, "init", "--home", str(home), "--namespace", "sample.example")
    assert done.returncode == 0, done.stderr
    port = free_port()
    with background_server(serve_command(home, port), port, env=installed) as url:
        yield url, home, installed


def test_one_entry_point_plugs_the_app_in_end_to_end(
    served: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    url, home, env = served
    assert httpx.get(url + "/sample/claims/cow-7").status_code == 404  # its route is there

    # The admin admits a writer: its key, then a signed ledger.member.add.
    done = sealchain(env, "keys", "new", "writer", "--home", str(home))
    assert done.returncode == 0, done.stderr
    vkey = next(line for line in done.stdout.split() if line.startswith("sample.example/"))
    admission = {
        "org": "writer",
        "name": "Writer & Sons Ltd",
        "roles": ["sample.writer"],
        "vkeys": [parse_vkey(vkey).vkey],
        "filing": "",
    }
    for org, record_type, body in (
        ("admin", "ledger.member.add", admission),
        ("writer", "sample.claim", {"item": "cow-7"}),
    ):
        path = tmp_path / f"{record_type}.json"
        path.write_text(json.dumps(body))
        args = ["submit", "--as", org, "--type", record_type, "--body", str(path)]
        done = sealchain(env, *args, "--url", url, "--home", str(home), "--out", str(tmp_path))
        assert done.returncode == 0, done.stderr

    for command in (["reindex"], ["audit", "--projections"]):
        done = sealchain(env, *command, "--home", str(home))
        assert done.returncode == 0, done.stdout + done.stderr
    assert "sample_claims" in done.stdout or "projections ok" in done.stdout

    with chromium() as browser:
        page = browser.new_context(locale="zh-CN").new_page()
        page.goto(url + "/sample/claims/cow-7")
        page.locator("#verdict:not([data-verdict=pending])").wait_for(timeout=15000)
        assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
        assert "Writer & Sons Ltd" in page.locator("#claim").inner_text()
        assert "认领" in page.locator("#claim").inner_text()
        assert page.evaluate("globalThis.sealchain.facts") == {
            "item": "cow-7",
            "org": "writer",
            "index": 2,
        }
