"""The layers (docs/architecture.md §1) are contracts that `lint-imports` checks in `make test`:
each one is shown failing here on a temporary copy of the code with one forbidden import added."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_copy(tmp_path: Path, edits: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on a copy of ledger/ and apps/ with `edits` (path -> appended line)."""
    for part in ("ledger", "apps"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, line in edits.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as f:
            f.write("\n" + line + "\n")
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    done = lint_copy(tmp_path, {})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("edits", "contract", "culprit"),
    [
        (
            {"ledger/core/merkle.py": "import sqlalchemy"},
            "ledger.core is pure",
            "ledger.core.merkle -> sqlalchemy",
        ),
        (
            {"ledger/core/note.py": "from ledger.storage import tables"},
            "ledger.core is pure",
            "ledger.core.note -> ledger.storage.tables",
        ),
        (
            {"ledger/storage/tables.py": "import apps.beef"},
            "the ledger never imports an app",
            "ledger.storage.tables -> apps.beef",
        ),
        (
            {"apps/beef/state.py": "from ledger.storage.engine import read_transaction"},
            "apps use the ledger only through ledger.plugin and ledger.core",
            "apps.beef.state -> ledger.storage.engine",
        ),
        (
            {"apps/other/__init__.py": "from apps.beef import journey"},
            "apps never import each other",
            "apps.other -> apps.beef.journey",
        ),
        (
            {"ledger/service/membership.py": "import ledger.api.app"},
            "no import cycles inside the ledger's layers",
            ".service -> .api",
        ),
    ],
    ids=[
        "core-imports-io",
        "core-imports-storage",
        "ledger-imports-app",
        "app-bypasses-plugin",
        "apps-import-each-other",
        "cycle",
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, edits: dict[str, str], contract: str, culprit: str
) -> None:
    done = lint_copy(tmp_path, edits)
    assert done.returncode != 0, done.stdout
    assert f"{contract}" in done.stdout
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken and culprit in broken, done.stdout
