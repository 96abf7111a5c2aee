"""`sealchain evidence notarize|verify` and `sealchain verify RECEIPT --file F` against a real
server: exit 0 for a verified registration, 1 for a file with none or a changed file, 2 for
set-up errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.evidence.demo import AUTHOR, CHAPTER, PLATFORM, infringing_copy
from ledger.cli import app
from tests.support.server import demo_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("evidence-cli")
    with demo_server(root) as (url, home):
        yield url, home, root


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_notarize_then_verify_the_file_and_its_receipt(served: tuple[str, Path, Path]) -> None:
    url, home, root = served
    chapter = root / "chapter.txt"
    chapter.write_text(CHAPTER, encoding="utf-8")
    common = ("--url", url, "--home", str(home))
    code, out = _run(
        "evidence", "notarize", str(chapter), "--as", AUTHOR, "--category", "work", *common
    )
    assert code == 0, out
    assert "deposited as EV-" in out
    receipt = root / "chapter.txt.receipt.json"
    assert receipt.exists()

    code, out = _run("evidence", "verify", str(chapter), *common)
    assert code == 0, out
    assert "1 registration(s), each receipt verified offline" in out

    code, out = _run("verify", str(receipt), "--file", str(chapter), "--home", str(home))
    assert code == 0, out

    changed = root / "changed.txt"
    changed.write_bytes(chapter.read_bytes()[:-1] + b"!")
    code, out = _run("verify", str(receipt), "--file", str(changed), "--home", str(home))
    assert code == 1, out
    code, out = _run("evidence", "verify", str(changed), *common)
    assert code == 1 and "NO REGISTRATION" in out, out


def test_verifying_the_copy_names_the_earlier_similar_work(served: tuple[str, Path, Path]) -> None:
    url, home, root = served
    original = root / "original.txt"
    original.write_text(CHAPTER, encoding="utf-8")
    common = ("--url", url, "--home", str(home))
    assert _run("evidence", "notarize", str(original), "--as", AUTHOR, *common)[0] == 0
    copy = root / "copy.txt"
    copy.write_text(infringing_copy(), encoding="utf-8")
    code, out = _run("evidence", "notarize", str(copy), "--as", PLATFORM, "--method", "web-page",
                     "--source-url", "https://site-x.example/c12", *common)  # fmt: skip
    assert code == 0, out
    code, out = _run("evidence", "verify", str(copy), *common)
    assert code == 0, out
    assert "similar text works" in out and "Author Li" in out


def test_set_up_errors_exit_2(served: tuple[str, Path, Path]) -> None:
    url, home, root = served
    code, out = _run(
        "evidence", "verify", str(root / "missing.bin"), "--url", url, "--home", str(home)
    )
    assert code == 2 and "cannot read" in out
    some = root / "some.bin"
    some.write_bytes(b"x")
    code, out = _run(
        "evidence", "notarize", str(some), "--as", "nobody", "--url", url, "--home", str(home)
    )
    assert code == 2, out
    code, out = _run(
        "evidence", "verify", str(some), "--url", "http://127.0.0.1:9", "--home", str(home)
    )
    assert code == 2, out
