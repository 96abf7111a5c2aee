"""GovernanceState: the in-memory governance replay that audits and proof-bundle verifiers use.

The rules themselves are shared with the live projection (tests/integration/test_governance_*.py
hold the two against each other); these tests pin what only the in-memory replay adds: the order
it accepts entries in, what genesis fixes, when a key may sign, and that a refusal changes nothing.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from ledger.core.keys import Signer, parse_vkey
from ledger.errors import StateConflict
from ledger.service.consortium import (
    ConsortiumKeys,
    ConsortiumPlan,
    OrgPlan,
    generate_keys,
    genesis_body,
)
from ledger.service.membership import (
    ADMIN_ROLE,
    GenesisBody,
    GovernanceState,
    KeyAdd,
    KeyRevoke,
    MemberAdd,
    MemberUpdate,
)
from ledger.storage.repository import KeyRow, MemberRow

PLAN = ConsortiumPlan(
    consortium="governance-test",
    namespace="governance.test",
    admins=["admin"],
    orgs=[OrgPlan("admin", "Admin", (ADMIN_ROLE,)), OrgPlan("writer", "Writer", ("x.writer",))],
    witnesses=["writer"],
)


@pytest.fixture(scope="module")
def keys() -> ConsortiumKeys:
    return generate_keys(PLAN)


def genesis(keys: ConsortiumKeys) -> GenesisBody:
    return GenesisBody.model_validate(genesis_body(PLAN, keys))


def started(keys: ConsortiumKeys) -> GovernanceState:
    state = GovernanceState()
    state.apply(0, "admin", keys.orgs["admin"].key_id_hex, genesis(keys))
    return state


def test_genesis_fixes_members_keys_log_and_witnesses(keys: ConsortiumKeys) -> None:
    state = started(keys)
    assert state.members == {
        "admin": MemberRow("admin", "Admin", (ADMIN_ROLE,), "", True, 0, 0),
        "writer": MemberRow("writer", "Writer", ("x.writer",), "", True, 0, 0),
    }
    writer = keys.orgs["writer"]
    assert state.keys[("writer", writer.key_id_hex)] == KeyRow(
        "writer", writer.key_id_hex, writer.vkey, 0, None
    )
    assert state.log == parse_vkey(keys.log.vkey)
    assert state.witnesses == {"writer": parse_vkey(keys.witnesses["writer"].vkey)}


def test_refuses_governance_before_genesis(keys: ConsortiumKeys) -> None:
    state = GovernanceState()
    body = MemberUpdate(org="admin", name="Usurper")
    with pytest.raises(StateConflict, match=r"first entry of a ledger must be ledger\.genesis"):
        state.apply(5, "admin", keys.orgs["admin"].key_id_hex, body)
    assert state.members == {} and state.log is None


def test_refuses_genesis_signed_by_a_non_admin(keys: ConsortiumKeys) -> None:
    with pytest.raises(StateConflict, match="genesis must be signed by an admin org, not 'writer'"):
        GovernanceState().apply(0, "writer", keys.orgs["writer"].key_id_hex, genesis(keys))


def test_refuses_a_second_genesis(keys: ConsortiumKeys) -> None:
    state = started(keys)
    with pytest.raises(StateConflict, match="already has a genesis entry"):
        state.apply(3, "admin", keys.orgs["admin"].key_id_hex, genesis(keys))


def test_refuses_entries_out_of_log_order(keys: ConsortiumKeys) -> None:
    """key_at answers by index, so an entry replayed before an earlier one would date it wrong."""
    state = started(keys)
    admin = keys.orgs["admin"].key_id_hex
    state.apply(7, "admin", admin, MemberUpdate(org="writer", name="Writer 7"))
    with pytest.raises(StateConflict, match="entry 4 comes after entry 7"):
        state.apply(4, "admin", admin, MemberUpdate(org="writer", name="Writer 4"))
    with pytest.raises(StateConflict, match="entry 7 comes after entry 7"):
        state.apply(7, "admin", admin, MemberUpdate(org="writer", name="Writer 7 again"))
    assert state.members["writer"].name == "Writer 7"


def test_refusal_leaves_the_state_unchanged(keys: ConsortiumKeys) -> None:
    state = started(keys)
    members, key_rows = dict(state.members), dict(state.keys)
    with pytest.raises(StateConflict, match="last active admin"):
        state.apply(1, "admin", keys.orgs["admin"].key_id_hex, MemberUpdate(org="admin", roles=[]))
    assert (state.members, state.keys) == (members, key_rows)
    state.apply(1, "admin", keys.orgs["admin"].key_id_hex, MemberUpdate(org="writer", name="W"))


def test_key_may_sign_from_its_addition_until_before_its_revocation(
    keys: ConsortiumKeys,
) -> None:
    state = started(keys)
    admin = keys.orgs["admin"].key_id_hex
    fresh = Signer.generate("governance.test/org/writer")
    state.apply(3, "admin", admin, KeyAdd(org="writer", vkey=fresh.vkey))
    state.apply(8, "admin", admin, KeyRevoke(org="writer", key=fresh.key_id_hex))
    assert state.key_at("writer", fresh.key_id_hex, 2) is None
    assert state.key_at("writer", fresh.key_id_hex, 3) == parse_vkey(fresh.vkey)
    assert state.key_at("writer", fresh.key_id_hex, 7) == parse_vkey(fresh.vkey)
    assert state.key_at("writer", fresh.key_id_hex, 8) is None
    assert state.key_at("writer", "0badc0de", 5) is None
    assert state.key_at("admin", fresh.key_id_hex, 5) is None  # another org's key id


def test_directory_lists_every_key_with_its_revocation(keys: ConsortiumKeys) -> None:
    state = started(keys)
    writer = keys.orgs["writer"]
    state.apply(
        2, "admin", keys.orgs["admin"].key_id_hex, KeyRevoke(org="writer", key=writer.key_id_hex)
    )
    listed = {(k.org, k.verifier.vkey, k.revoked_at) for k in state.directory().keys}
    assert listed == {("admin", keys.orgs["admin"].vkey, None), ("writer", writer.vkey, 2)}


def test_inactive_member_is_not_active(keys: ConsortiumKeys) -> None:
    state = started(keys)
    state.apply(1, "admin", keys.orgs["admin"].key_id_hex, MemberUpdate(org="writer", active=False))
    assert not state.is_active("writer") and state.is_active("admin")
    assert not state.is_active("ghost")


def test_member_added_later_keeps_its_admission_index(keys: ConsortiumKeys) -> None:
    state = started(keys)
    admin = keys.orgs["admin"].key_id_hex
    newcomer = Signer.generate("governance.test/org/newcomer")
    add = MemberAdd(org="newcomer", name="New", roles=["x.writer"], vkeys=[newcomer.vkey])
    state.apply(4, "admin", admin, add)
    state.apply(9, "admin", admin, MemberUpdate(org="newcomer", roles=[]))
    assert state.members["newcomer"] == MemberRow("newcomer", "New", (), "", True, 4, 9)


class Note(BaseModel):
    text: str


def test_refuses_a_body_that_is_not_governance(keys: ConsortiumKeys) -> None:
    with pytest.raises(TypeError, match="not a governance entry body"):
        started(keys).apply(1, "writer", keys.orgs["writer"].key_id_hex, Note(text="hi"))
