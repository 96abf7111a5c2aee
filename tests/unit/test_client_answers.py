"""LedgerClient against answers a Sealchain server would not give (httpx.MockTransport): a URL
that names something else is Unreachable, a refusal is the error its problem names, and a
VerificationError only ever means the client's own offline check failed."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from ledger.client import LedgerClient
from ledger.core.keys import Signer
from ledger.core.note import Checkpoint, sign_note
from ledger.core.policy import MemberDirectory, TrustPolicy, parse_log_policy
from ledger.errors import ForbiddenRole, NoteError, Unreachable

ORIGIN = "sealchain.test/log"
OLD_LOG = Signer.from_seed(ORIGIN, b"\x01" * 32)
NEW_LOG = Signer.from_seed(ORIGIN, b"\x02" * 32)  # the same log after a key rotation
OTHER = Signer.from_seed(ORIGIN, b"\x03" * 32)  # a key under the log's name it never held
WRITER = Signer.from_seed("sealchain.test/org/writer", b"\x04" * 32)
ROTATED = TrustPolicy(
    parse_log_policy(f"log {OLD_LOG.vkey}\nlog {NEW_LOG.vkey}\nquorum none\n"), MemberDirectory()
)
CHECKPOINT = Checkpoint(ORIGIN, 5, bytes(range(32)))


def client(answer: Callable[[httpx.Request], httpx.Response]) -> LedgerClient:
    return LedgerClient(
        "http://ledger.test", "writer", WRITER, ROTATED, transport=httpx.MockTransport(answer)
    )


def note_by(signer: Signer) -> Callable[[httpx.Request], httpx.Response]:
    text = str(sign_note(CHECKPOINT.text(), [signer]))
    return lambda request: httpx.Response(200, text=text)


@pytest.mark.parametrize("signer", [OLD_LOG, NEW_LOG], ids=["old-key", "new-key"])
def test_a_checkpoint_by_either_key_of_a_rotated_log_verifies(signer: Signer) -> None:
    with client(note_by(signer)) as c:
        checkpoint, note = c.get_checkpoint()
    assert checkpoint == CHECKPOINT
    assert note.startswith(CHECKPOINT.text())


def test_a_checkpoint_by_a_key_the_policy_does_not_list_is_refused() -> None:
    with client(note_by(OTHER)) as c, pytest.raises(NoteError, match="not signed by a key"):
        c.get_checkpoint()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>a web page</html>"),
        httpx.Response(200, text=f"{ORIGIN}\nnot a size\n\n— nobody AAAA\n"),
    ],
    ids=["html", "checkpoint-shaped"],
)
def test_a_checkpoint_answer_that_is_not_one_is_unreachable(answer: httpx.Response) -> None:
    with client(lambda request: answer) as c, pytest.raises(Unreachable, match="not a checkpoint"):
        c.get_checkpoint()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"hello": "world"}),
        httpx.Response(201, text="<html>created</html>"),
        httpx.Response(
            404, text="<html>\n<h1>Not Found</h1>\n</html>", headers={"content-type": "text/html"}
        ),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(400, json={"error": "not a problem document"}),
    ],
    ids=["json-not-a-receipt", "html-201", "html-404", "proxy-502", "foreign-json-error"],
)
def test_a_submit_answer_that_is_not_a_ledgers_is_unreachable(answer: httpx.Response) -> None:
    with client(lambda request: answer) as c, pytest.raises(Unreachable) as caught:
        c.submit("sample.note", {"text": "x"})
    assert "not a Sealchain ledger's answer" in caught.value.detail
    assert "\n" not in caught.value.detail


def test_a_problem_document_is_the_refusal_it_names() -> None:
    problem = {"type": "x", "title": "t", "status": 403, "detail": "no", "code": "forbidden-role"}
    refusal = httpx.Response(403, content=json.dumps(problem).encode())
    with client(lambda request: refusal) as c, pytest.raises(ForbiddenRole):
        c.submit("sample.note", {"text": "x"})


def test_nothing_listening_is_unreachable_naming_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client(refuse) as c, pytest.raises(Unreachable) as caught:
        c.submit("sample.note", {"text": "x"})
    assert "POST http://ledger.test/v1/entries: no answer" in caught.value.detail
