"""Trust policy (C2SP tlog-policy + members.txt) and write policies (DESIGN 3.7, 4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.keys import SIG_COSIGNATURE_V1, Signer
from ledger.core.policy import (
    Group,
    MemberDirectory,
    MemberKey,
    RoleWritePolicy,
    TrustPolicy,
    parse_log_policy,
    parse_members,
)
from ledger.errors import PolicyError

LOG = Signer.from_seed("sealchain.test/log", b"\x01" * 32)
WITNESSES = {
    name: Signer.from_seed(f"witness.test/{name.lower()}", bytes([10 + i]) * 32, SIG_COSIGNATURE_V1)
    for i, name in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3"])
}
ORG_A = Signer.from_seed("sealchain.test/org/au-meatworks", b"\x31" * 32)
ORG_A2 = Signer.from_seed("sealchain.test/org/au-meatworks/2", b"\x32" * 32)
ORG_B = Signer.from_seed("sealchain.test/org/au-exporter", b"\x33" * 32)


def _w(name: str) -> str:
    return WITNESSES[name].vkey


# The example from c2sp.org/tlog-policy with real keys.
EXAMPLE = f"""log {LOG.vkey}

witness X1 {_w("X1")}
witness X2 {_w("X2")}
witness X3 {_w("X3")}
group X-witnesses 2 X1 X2 X3

witness Y1 {_w("Y1")}
witness Y2 {_w("Y2")}
witness Y3 {_w("Y3")}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def _policy_error(text: str, match: str | None = None) -> PolicyError:
    with pytest.raises(PolicyError, match=match) as caught:
        parse_log_policy(text)
    assert caught.value.code == "bad-policy"
    return caught.value


# --- parsing the tlog-policy example ------------------------------------------------------------


def test_parses_the_c2sp_example_policy() -> None:
    policy = parse_log_policy(EXAMPLE)
    assert policy.logs == [LOG.verifier]
    assert policy.witnesses == {name: s.verifier for name, s in WITNESSES.items()}
    assert policy.groups == {
        "X-witnesses": Group("X-witnesses", 2, ("X1", "X2", "X3")),
        "Y-witnesses": Group("Y-witnesses", 1, ("Y1", "Y2", "Y3")),
        "X-and-Y": Group("X-and-Y", 2, ("X-witnesses", "Y-witnesses")),
    }
    assert policy.quorum == "X-and-Y"
    assert policy.logs_for_origin("sealchain.test/log") == [LOG.verifier]


@pytest.mark.parametrize(
    ("cosigned", "met"),
    [
        ({"X1", "X2", "Y1"}, True),
        ({"X1", "X3", "Y3"}, True),
        ({"X1", "X2", "X3", "Y1", "Y2", "Y3"}, True),
        ({"X1", "Y1"}, False),  # only one X
        ({"X1", "X2", "X3"}, False),  # no Y
        ({"Y1", "Y2", "Y3"}, False),
        (set(), False),
        ({"X-witnesses", "Y-witnesses"}, False),  # group names are not cosigners
        ({"X1", "X2", "Y9", "none"}, False),
    ],
)
def test_evaluates_the_example_quorum(cosigned: set[str], met: bool) -> None:
    assert parse_log_policy(EXAMPLE).quorum_met(cosigned) is met


def test_quorum_none_needs_no_cosignatures() -> None:
    policy = parse_log_policy(f"log {LOG.vkey}\nquorum none\n")
    assert policy.witnesses == {}
    assert policy.quorum_met(set())


def test_quorum_can_name_a_single_witness() -> None:
    policy = parse_log_policy(f"witness X1 {_w('X1')}\nquorum X1\n")
    assert policy.logs == []  # logs may be known from context
    assert policy.quorum_met({"X1"})
    assert not policy.quorum_met({"X2"})


@pytest.mark.parametrize(("threshold", "k"), [("all", 3), ("any", 1), ("1", 1), ("2", 2), ("3", 3)])
def test_group_thresholds(threshold: str, k: int) -> None:
    text = (
        "".join(f"witness {n} {_w(n)}\n" for n in ("X1", "X2", "X3"))
        + f"group G {threshold} X1 X2 X3\nquorum G\n"
    )
    policy = parse_log_policy(text)
    assert policy.groups["G"].threshold == k
    members = ["X1", "X2", "X3"]
    for hits in range(4):
        assert policy.quorum_met(set(members[:hits])) is (hits >= k)


def test_accepts_comments_blank_lines_tabs_and_urls() -> None:
    text = (
        "# trust policy\n"
        "\n"
        f"  log\t{LOG.vkey} https://log.example/\n"
        "   # indented comment\n"
        f"witness X1 {_w('X1')}  https://w1.example/\n"
        "\t \n"
        "quorum X1"  # no final newline
    )
    policy = parse_log_policy(text)
    assert policy.logs == [LOG.verifier]
    assert policy.quorum == "X1"


def test_policy_text_round_trips() -> None:
    policy = parse_log_policy(EXAMPLE)
    again = parse_log_policy(policy.to_text())
    assert again == policy


# --- policy errors ------------------------------------------------------------------------------


def test_rejects_group_naming_an_undefined_member() -> None:
    _policy_error(f"group G any X1\nwitness X1 {_w('X1')}\nquorum G\n", "not defined")


def test_rejects_quorum_naming_an_undefined_group() -> None:
    # Also rules out a quorum defined before its group.
    _policy_error(f"witness X1 {_w('X1')}\nquorum G\ngroup G any X1\n", "not defined")


def test_rejects_none_as_group_member() -> None:
    _policy_error(f"witness X1 {_w('X1')}\ngroup G any X1 none\nquorum G\n")


def test_rejects_duplicate_names() -> None:
    _policy_error(f"witness X1 {_w('X1')}\nwitness X1 {_w('X2')}\nquorum X1\n", "already")
    _policy_error(f"witness X1 {_w('X1')}\ngroup X1 any X1\nquorum X1\n", "already")
    _policy_error(f"witness none {_w('X1')}\nquorum none\n", "already")


def test_rejects_duplicate_keys_under_different_names() -> None:
    # The same key twice would let one witness count twice toward a threshold.
    same_key = Signer.from_seed("witness.test/alias", bytes([10]) * 32, SIG_COSIGNATURE_V1)
    assert same_key.verifier.public_key == WITNESSES["X1"].verifier.public_key
    _policy_error(
        f"witness X1 {_w('X1')}\nwitness A {same_key.vkey}\ngroup G 2 X1 A\nquorum G\n",
        "duplicate key",
    )
    log_alias = Signer.from_seed("other.test/log", b"\x01" * 32)
    _policy_error(f"log {LOG.vkey}\nlog {log_alias.vkey}\nquorum none\n", "duplicate key")


def test_rejects_name_listed_in_two_groups() -> None:
    text = (
        f"witness X1 {_w('X1')}\nwitness X2 {_w('X2')}\n"
        "group A any X1 X2\ngroup B any X1\ngroup C all A B\nquorum C\n"
    )
    _policy_error(text, "already a member")


@pytest.mark.parametrize("k", ["0", "4", "-1", "1.5", "two", "\uff12", "", "0x2"])
def test_rejects_threshold_out_of_range_or_not_decimal(k: str) -> None:
    witnesses = "".join(f"witness {n} {_w(n)}\n" for n in ("X1", "X2", "X3"))
    _policy_error(witnesses + f"group G {k} X1 X2 X3\nquorum G\n")


def test_rejects_group_without_members() -> None:
    _policy_error("group G any\nquorum none\n")


def test_rejects_two_quorum_lines() -> None:
    _policy_error(f"witness X1 {_w('X1')}\nquorum X1\nquorum none\n", "exactly one quorum")


def test_rejects_missing_quorum() -> None:
    _policy_error(f"log {LOG.vkey}\nwitness X1 {_w('X1')}\n", "no quorum")
    _policy_error("", "no quorum")


def test_rejects_witness_key_with_plain_ed25519_type() -> None:
    # A witness vkey must be type 0x04 (timestamped cosignature), never a note-signing key.
    _policy_error(f"witness X1 {ORG_A.vkey}\nquorum X1\n", "0x04")


def test_rejects_log_key_with_cosignature_type() -> None:
    _policy_error(f"log {_w('X1')}\nquorum none\n", "0x01")


@pytest.mark.parametrize(
    "line",
    [
        "logs KEY",
        "log",
        "log a b c",
        "witness X9",
        "quorum",
        "quorum a b",
        "log not-a-vkey",
        "witness X9 sealchain.test/w+00000000+AAAA",
    ],
)
def test_rejects_unreadable_lines(line: str) -> None:
    _policy_error(f"{line}\nquorum none\n", "line 1")


@pytest.mark.parametrize("char", ["\r", "\x00", "\x0b", "\x7f", "\x1b"])
def test_rejects_control_characters(char: str) -> None:
    _policy_error(f"log {LOG.vkey}{char}\nquorum none\n", "control")


def test_an_unknown_origin_has_no_log_key() -> None:
    assert parse_log_policy(EXAMPLE).logs_for_origin("other.test/log") == []


def test_a_rotated_log_keeps_every_key_listed_for_its_origin() -> None:
    # Key rotation: the old key signed the checkpoints before the change, the new one after,
    # and a verifier holding this policy must accept both (the browser verifier does).
    rotated = Signer.from_seed("sealchain.test/log", b"\x02" * 32)
    other = Signer.from_seed("other.test/log", b"\x03" * 32)
    policy = parse_log_policy(
        f"log {LOG.vkey}\nlog {other.vkey}\nlog {rotated.vkey}\nquorum none\n"
    )
    assert policy.logs_for_origin("sealchain.test/log") == [LOG.verifier, rotated.verifier]


# --- members.txt --------------------------------------------------------------------------------


def _members() -> MemberDirectory:
    return MemberDirectory(
        [
            MemberKey("au-meatworks", ORG_A.verifier, revoked_at=120),
            MemberKey("au-meatworks", ORG_A2.verifier),
            MemberKey("au-exporter", ORG_B.verifier, revoked_at=0),
        ]
    )


def test_members_text_round_trips() -> None:
    directory = _members()
    text = directory.to_text()
    assert f"au-meatworks {ORG_A.vkey} 120\n" in text
    assert f"au-meatworks {ORG_A2.vkey}\n" in text
    assert parse_members(text) == directory


def test_members_lookup_matches_org_and_key_id() -> None:
    directory = _members()
    found = directory.lookup("au-meatworks", ORG_A2.key_id_hex)
    assert found is not None and found.verifier == ORG_A2.verifier
    # A real key of another org does not sign for this one.
    assert directory.lookup("au-meatworks", ORG_B.key_id_hex) is None
    assert directory.lookup("nobody", ORG_A.key_id_hex) is None


@given(st.one_of(st.none(), st.integers(0, 2**63)), st.integers(0, 2**63))
def test_member_key_is_valid_strictly_before_its_revocation(revoked_at: int | None, i: int) -> None:
    key = MemberKey("au-meatworks", ORG_A.verifier, revoked_at)
    assert key.valid_at(i) is (revoked_at is None or i < revoked_at)


def test_revocation_boundary() -> None:
    key = MemberKey("au-meatworks", ORG_A.verifier, revoked_at=120)
    assert key.valid_at(119)
    assert not key.valid_at(120)  # the revoking entry itself cannot be signed by the key
    assert not key.valid_at(121)


@pytest.mark.parametrize(
    "line",
    [
        "au-meatworks",
        f"au-meatworks {ORG_A.vkey} 5 6",
        f"au-meatworks {ORG_A.vkey} -1",
        f"au-meatworks {ORG_A.vkey} five",
        f"au-meatworks {ORG_A.vkey} \uff15",
        "au-meatworks not-a-vkey",
        f"au-meatworks {_w('X1')}",  # a witness key cannot sign envelopes
    ],
)
def test_members_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(PolicyError, match="members line 2"):
        parse_members(f"# header\n{line}\n")


def test_members_rejects_the_same_key_listed_twice_for_an_org() -> None:
    # With two lines for one key, lookup picks the first: an unrevoked duplicate line would
    # silently undo a revocation.  Ambiguous input must fail closed.
    text = f"au-meatworks {ORG_A.vkey}\nau-meatworks {ORG_A.vkey} 5\n"
    with pytest.raises(PolicyError):
        parse_members(text)


def test_trust_policy_reads_both_files() -> None:
    trust = TrustPolicy.from_texts(EXAMPLE, _members().to_text())
    assert trust.log.quorum == "X-and-Y"
    assert len(trust.members.keys) == 3


# --- write policies -----------------------------------------------------------------------------


def test_role_write_policy_permits_listed_roles() -> None:
    policy = RoleWritePolicy({"beef.commission": frozenset({"beef.processor"})})
    assert policy.permits("beef.commission", {"beef.processor", "beef.retail"})
    assert not policy.permits("beef.commission", {"beef.retail"})
    assert not policy.permits("beef.commission", set())


def test_role_write_policy_denies_unknown_types() -> None:
    # Fails closed: a record type nobody registered can be written by nobody, whatever roles.
    policy = RoleWritePolicy({"beef.commission": frozenset({"beef.processor"})})
    assert policy.roles_for("beef.unknown") == frozenset()
    assert not policy.permits("beef.unknown", {"beef.processor", "admin", "*"})
    assert not RoleWritePolicy({}).permits("beef.commission", {"beef.processor"})


def test_role_write_policy_denies_type_with_no_roles() -> None:
    policy = RoleWritePolicy({"ledger.genesis": frozenset()})
    assert not policy.permits("ledger.genesis", {"admin"})
