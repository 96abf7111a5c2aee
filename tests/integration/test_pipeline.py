"""One test per validation step (DESIGN 5), named after the attack it stops.

Every rejection must carry its own problem code and leave the ledger as it was: same size,
audit passes.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from ledger.core.envelope import format_ts, new_nonce, sign_envelope
from ledger.core.keys import Signer
from ledger.errors import LedgerError
from ledger.service.audit import audit
from ledger.service.sequencer import Accepted
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository
from tests.support.ledgers import LedgerFixture


def size_of(ledger: LedgerFixture) -> int:
    with read_transaction(ledger.node.engine) as conn:
        return Repository(conn).tree_size()


def assert_rejected(ledger: LedgerFixture, raw: bytes, code: str) -> LedgerError:
    before = size_of(ledger)
    (outcome,) = ledger.submit(raw)
    assert isinstance(outcome, LedgerError), f"expected {code}, got {outcome!r}"
    assert outcome.code == code, outcome.detail
    assert outcome.problem()["type"].endswith("/" + code)
    assert size_of(ledger) == before
    result = audit(ledger.node.engine, ledger.node.registry)
    assert result.ok, result.first_bad
    return outcome


def note(ledger: LedgerFixture, org: str = "writer-a", text: str = "hello", **kw: object):
    return ledger.sign(org, "sample.note", {"text": text}, **kw)


def test_accepts_a_valid_note(ledger: LedgerFixture) -> None:
    (outcome,) = ledger.submit(note(ledger))
    assert isinstance(outcome, Accepted)
    assert outcome.index == 1 and outcome.tree_size == 2


# (1) size and strict JSON


def test_rejects_oversized_entry(ledger: LedgerFixture) -> None:
    env = note(ledger).as_dict()
    env["body"] = {"text": "x" * (70 * 1024)}
    assert_rejected(ledger, json.dumps(env).encode(), "payload-too-large")


def test_rejects_duplicate_json_keys(ledger: LedgerFixture) -> None:
    raw = note(ledger).raw
    smuggled = raw[:-1] + b',"org":"writer-b"}'
    assert_rejected(ledger, smuggled, "malformed-json")


def test_rejects_nan_and_unsafe_integers(ledger: LedgerFixture) -> None:
    raw = note(ledger).raw.replace(b'"v":1', b'"v":NaN')
    assert_rejected(ledger, raw, "malformed-json")
    raw = note(ledger).raw.replace(b'"v":1', b'"v":9007199254740993')
    assert_rejected(ledger, raw, "malformed-json")


# (2) envelope schema


def test_rejects_envelope_with_unknown_field(ledger: LedgerFixture) -> None:
    env = note(ledger).as_dict()
    env["extra"] = 1
    assert_rejected(ledger, json.dumps(env).encode(), "invalid-envelope")


def test_rejects_short_nonce(ledger: LedgerFixture) -> None:
    env = note(ledger).as_dict()
    env["nonce"] = "AAAA"
    assert_rejected(ledger, json.dumps(env).encode(), "invalid-envelope")


# (3) org known and active, key belongs to it, not revoked


def test_rejects_unknown_org(ledger: LedgerFixture) -> None:
    ghost = Signer.generate("sealchain.test/org/ghost")
    env = sign_envelope(ghost, type="sample.note", org="ghost", body={"text": "boo"})
    assert_rejected(ledger, env.raw, "unknown-org")


def test_rejects_key_of_another_org(ledger: LedgerFixture) -> None:
    env = sign_envelope(
        ledger.signers["writer-b"], type="sample.note", org="writer-a", body={"text": "x"}
    )
    assert_rejected(ledger, env.raw, "unknown-key")


def test_rejects_key_used_after_its_revocation(ledger: LedgerFixture) -> None:
    before = note(ledger, text="signed before the revocation")
    ledger.accept(before)
    key_id = ledger.signers["writer-a"].key_id_hex
    ledger.accept(
        ledger.sign(
            "admin", "ledger.key.revoke", {"org": "writer-a", "key": key_id, "reason": "lost"}
        )
    )
    assert_rejected(ledger, note(ledger, text="signed after").raw, "revoked-key")
    # entries sequenced before the revocation stay valid
    result = audit(ledger.node.engine, ledger.node.registry)
    assert result.ok and result.entries == 3


def test_rejects_revoked_key_later_in_the_same_block(ledger: LedgerFixture) -> None:
    key_id = ledger.signers["writer-a"].key_id_hex
    revoke = ledger.sign("admin", "ledger.key.revoke", {"org": "writer-a", "key": key_id})
    late = note(ledger, text="same block, after the revocation")
    outcomes = ledger.submit(revoke, late)
    assert isinstance(outcomes[0], Accepted)
    assert isinstance(outcomes[1], LedgerError) and outcomes[1].code == "revoked-key"
    assert audit(ledger.node.engine, ledger.node.registry).ok


def test_new_key_signs_after_rotation(ledger: LedgerFixture) -> None:
    fresh = Signer.generate("sealchain.test/org/writer-a")
    ledger.accept(ledger.sign("admin", "ledger.key.add", {"org": "writer-a", "vkey": fresh.vkey}))
    env = sign_envelope(fresh, type="sample.note", org="writer-a", body={"text": "new key"})
    ledger.accept(env)
    assert audit(ledger.node.engine, ledger.node.registry).ok


def test_rejects_inactive_member(ledger: LedgerFixture) -> None:
    ledger.accept(
        ledger.sign("admin", "ledger.member.update", {"org": "writer-b", "active": False})
    )
    assert_rejected(ledger, note(ledger, org="writer-b").raw, "unknown-org")


# (4) signature


def test_rejects_bad_signature(ledger: LedgerFixture) -> None:
    env = note(ledger).as_dict()
    env["body"] = {"text": "changed after signing"}
    assert_rejected(ledger, json.dumps(env).encode(), "bad-signature")


def test_rejects_flipped_signature_bit(ledger: LedgerFixture) -> None:
    env = note(ledger).as_dict()
    sig = bytearray(base64.b64decode(env["sig"]))
    sig[10] ^= 0x01
    env["sig"] = base64.b64encode(bytes(sig)).decode()
    assert_rejected(ledger, json.dumps(env).encode(), "bad-signature")


# (5) timestamp window


@pytest.mark.parametrize(
    "skew", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=1)]
)
def test_rejects_timestamp_outside_window(ledger: LedgerFixture, skew: timedelta) -> None:
    ts = format_ts(datetime.now(UTC) + skew)
    assert_rejected(ledger, note(ledger, ts=ts).raw, "stale-timestamp")


# (6) replay


def test_rejects_replayed_nonce(ledger: LedgerFixture) -> None:
    nonce = new_nonce()
    ledger.accept(note(ledger, text="first", nonce=nonce))
    assert_rejected(ledger, note(ledger, text="second", nonce=nonce).raw, "replay")


def test_rejects_replayed_nonce_within_one_block(ledger: LedgerFixture) -> None:
    nonce = new_nonce()
    outcomes = ledger.submit(
        note(ledger, text="a", nonce=nonce), note(ledger, text="b", nonce=nonce)
    )
    assert isinstance(outcomes[0], Accepted)
    assert isinstance(outcomes[1], LedgerError) and outcomes[1].code == "replay"


def test_rejects_replayed_tx_id(ledger: LedgerFixture) -> None:
    env = note(ledger)
    ledger.accept(env)
    assert_rejected(ledger, env.raw, "duplicate-entry")


def test_same_nonce_is_fine_for_another_org(ledger: LedgerFixture) -> None:
    nonce = new_nonce()
    ledger.accept(
        note(ledger, org="writer-a", nonce=nonce), note(ledger, org="writer-b", nonce=nonce)
    )


# (7) type registered, body valid


def test_rejects_unregistered_type(ledger: LedgerFixture) -> None:
    env = ledger.sign("writer-a", "sample.unknown", {"text": "x"})
    assert_rejected(ledger, env.raw, "unknown-type")


def test_rejects_body_that_fails_its_model(ledger: LedgerFixture) -> None:
    env = ledger.sign("writer-a", "sample.note", {"text": "", "colour": "red"})
    err = assert_rejected(ledger, env.raw, "invalid-body")
    assert err.extra["errors"]


# (8) role


def test_rejects_wrong_role(ledger: LedgerFixture) -> None:
    assert_rejected(ledger, note(ledger, org="reader").raw, "forbidden-role")


def test_rejects_governance_by_non_admin(ledger: LedgerFixture) -> None:
    env = ledger.sign("writer-a", "ledger.key.revoke", {"org": "writer-b", "key": "00000000"})
    assert_rejected(ledger, env.raw, "forbidden-role")


def test_rejects_second_genesis(ledger: LedgerFixture) -> None:
    genesis = json.loads(ledger.settings.home.joinpath("genesis.json").read_text())
    env = ledger.sign("admin", "ledger.genesis", genesis["body"])
    assert_rejected(ledger, env.raw, "forbidden-role")


# (9) app state rules


def test_rejects_claiming_an_item_twice(ledger: LedgerFixture) -> None:
    ledger.accept(ledger.sign("writer-a", "sample.claim", {"item": "cow-1"}))
    err = assert_rejected(
        ledger, ledger.sign("writer-b", "sample.claim", {"item": "cow-1"}).raw, "state-conflict"
    )
    assert "already claimed by writer-a" in err.detail


def test_state_conflict_inside_a_block_keeps_the_rest(ledger: LedgerFixture) -> None:
    first = ledger.sign("writer-a", "sample.claim", {"item": "cow-2"})
    second = ledger.sign("writer-b", "sample.claim", {"item": "cow-2"})
    third = note(ledger, text="unrelated")
    outcomes = ledger.submit(first, second, third)
    assert isinstance(outcomes[0], Accepted) and isinstance(outcomes[2], Accepted)
    assert isinstance(outcomes[1], LedgerError) and outcomes[1].code == "state-conflict"
    assert (outcomes[0].index, outcomes[2].index) == (1, 2)  # contiguous despite the rejection


def test_rejects_key_signing_its_own_revocation(ledger: LedgerFixture) -> None:
    key_id = ledger.signers["admin"].key_id_hex
    env = ledger.sign("admin", "ledger.key.revoke", {"org": "admin", "key": key_id})
    assert_rejected(ledger, env.raw, "state-conflict")


def test_rejects_removing_the_last_admin(ledger: LedgerFixture) -> None:
    env = ledger.sign("admin", "ledger.member.update", {"org": "admin", "roles": []})
    assert_rejected(ledger, env.raw, "state-conflict")


def test_rejects_leaving_only_an_admin_without_keys(ledger: LedgerFixture) -> None:
    """A second admin whose every key is revoked cannot sign, so it does not count."""
    key_id = ledger.signers["writer-a"].key_id_hex
    promote = {"org": "writer-a", "roles": ["ledger.admin"]}
    ledger.accept(ledger.sign("admin", "ledger.member.update", promote))
    ledger.accept(ledger.sign("admin", "ledger.key.revoke", {"org": "writer-a", "key": key_id}))
    step_down = ledger.sign("admin", "ledger.member.update", {"org": "admin", "roles": []})
    err = assert_rejected(ledger, step_down.raw, "state-conflict")
    assert "unrevoked key" in err.detail
    fresh = Signer.generate("sealchain.test/org/writer-a")
    ledger.accept(ledger.sign("admin", "ledger.key.add", {"org": "writer-a", "vkey": fresh.vkey}))
    ledger.accept(ledger.sign("admin", "ledger.member.update", {"org": "admin", "roles": []}))


def test_rejects_leaving_no_usable_admin_within_one_block(ledger: LedgerFixture) -> None:
    promote = {"org": "writer-a", "roles": ["ledger.admin"]}
    ledger.accept(ledger.sign("admin", "ledger.member.update", promote))
    key_id = ledger.signers["writer-a"].key_id_hex
    revoke = ledger.sign("admin", "ledger.key.revoke", {"org": "writer-a", "key": key_id})
    step_down = ledger.sign("admin", "ledger.member.update", {"org": "admin", "active": False})
    outcomes = ledger.submit(revoke, step_down)
    assert isinstance(outcomes[0], Accepted)
    assert isinstance(outcomes[1], LedgerError) and outcomes[1].code == "state-conflict"


def test_key_spelled_unusually_passes_the_audit(ledger: LedgerFixture) -> None:
    """The vkey parser accepts an upper-case key id and surrounding spaces; the projection keeps
    the string as the entry spelled it, and so must the audit's replay that it is checked with."""
    fresh = Signer.generate("sealchain.test/org/writer-a")
    name, key_id, public = fresh.vkey.split("+", 2)
    spelled = f" {name}+{key_id.upper()}+{public} "
    ledger.accept(ledger.sign("admin", "ledger.key.add", {"org": "writer-a", "vkey": spelled}))
    ledger.accept(sign_envelope(fresh, type="sample.note", org="writer-a", body={"text": "hi"}))
    result = audit(ledger.node.engine, ledger.node.registry)
    assert result.ok, result.first_bad


def test_member_added_later_can_write(ledger: LedgerFixture) -> None:
    newcomer = Signer.generate("sealchain.test/org/newcomer")
    body = {"org": "newcomer", "name": "New", "roles": ["sample.writer"], "vkeys": [newcomer.vkey]}
    ledger.accept(ledger.sign("admin", "ledger.member.add", body))
    ledger.accept(sign_envelope(newcomer, type="sample.note", org="newcomer", body={"text": "hi"}))
    assert audit(ledger.node.engine, ledger.node.registry).ok


def test_members_file_follows_governance(ledger: LedgerFixture) -> None:
    members_txt = ledger.settings.home / "members.txt"
    key_id = ledger.signers["writer-a"].key_id_hex
    ledger.accept(ledger.sign("admin", "ledger.key.revoke", {"org": "writer-a", "key": key_id}))
    line = next(ln for ln in members_txt.read_text().splitlines() if ln.startswith("writer-a "))
    assert line.endswith(" 1")  # revoked at index 1: valid for entries before it


def test_a_large_batch_answers_each_bad_signature_and_unknown_key_as_one_by_one(
    ledger: LedgerFixture,
) -> None:
    # Large enough for its signatures to be checked on every core ahead of the other steps
    # (ledger.service.signatures): the outcomes are those of the one-by-one checks.
    raws: list[bytes] = []
    for n in range(150):
        env = note(ledger, text=f"batch {n}").as_dict()
        if n % 37 == 5:
            env["body"] = {"text": "changed after signing"}
        if n % 41 == 7:
            env["key"] = "00000000"
        raws.append(json.dumps(env).encode())
    outcomes = ledger.submit(*raws)
    for n, outcome in enumerate(outcomes):
        if n % 41 == 7:
            assert isinstance(outcome, LedgerError) and outcome.code == "unknown-key", n
        elif n % 37 == 5:
            assert isinstance(outcome, LedgerError) and outcome.code == "bad-signature", n
        else:
            assert isinstance(outcome, Accepted), (n, outcome)
    result = audit(ledger.node.engine, ledger.node.registry)
    assert result.ok, result.first_bad
