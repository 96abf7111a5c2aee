"""The ledger's tables (SQLAlchemy 2.0 Core). Alembic migrations in migrations/ create them.

Raw tables (entries, nodes, blocks, checkpoints, cosignatures) are the evidence: the audit
re-verifies them. Derived tables (members, member_keys, nonces) are projections of the entries:
`sealchain reindex` rebuilds them and must get the same rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

# SQLite only makes INTEGER PRIMARY KEY a rowid alias; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

blocks = Table(
    "blocks",
    metadata,
    Column("height", BigId, primary_key=True, autoincrement=False),
    Column("header", LargeBinary, nullable=False),  # canonical JSON of the header
    Column("hash", LargeBinary(32), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False, unique=True),
)

entries = Table(
    "entries",
    metadata,
    Column("idx", BigId, primary_key=True, autoincrement=False),
    Column("tx_id", String(64), nullable=False, unique=True),
    Column("org", String(63), nullable=False),
    Column("type", String(130), nullable=False, index=True),
    Column("data", LargeBinary, nullable=False),  # JCS(envelope with sig): the Merkle leaf data
    Column("block_height", BigInteger, ForeignKey("blocks.height"), nullable=False, index=True),
)

SPAN_LEVELS = 5  # nodes below this level are stored by the span of 2^5 leaves they lie in
UPPER_SPAN = -1  # the span column of every node at SPAN_LEVELS and above


def node_span(level: int, idx: int) -> int:
    """The `span` of node (level, idx): below SPAN_LEVELS, the index of the 32-leaf span it lies
    in; above, UPPER_SPAN. Nodes are stored in (span, level, idx) order, so the low nodes of an
    inclusion proof (those the node cache does not hold: all in the leaf's own span, or for a
    right edge cut short in the tree's last one) share one or two pages instead of one page per
    level, and the upper levels stay contiguous per level for the node cache's one-statement
    read (docs/benchmarks.md, "Proofs, third round")."""
    return (idx << level) >> SPAN_LEVELS if level < SPAN_LEVELS else UPPER_SPAN


def node_span_sql(level: str, idx: str) -> str:
    """node_span as an SQL expression of the columns `level` and `idx` (the same on SQLite and
    PostgreSQL, for every idx below 2^59). The cast: PostgreSQL shifts an integer bound for a
    small idx as a 32-bit one, which would drop the high bits of idx << level."""
    return (
        f"CASE WHEN {level} < {SPAN_LEVELS} "
        f"THEN (CAST({idx} AS BIGINT) << {level}) >> {SPAN_LEVELS} ELSE {UPPER_SPAN} END"
    )


nodes = Table(
    "nodes",
    metadata,
    Column("span", BigInteger, primary_key=True, autoincrement=False),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    # A row stored under another span is refused, never lost to lookups (which find by span).
    CheckConstraint(f"span = {node_span_sql('level', 'idx')}", name="nodes_span"),
    sqlite_with_rowid=False,
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigId, primary_key=True, autoincrement=False),
    Column("block_height", BigInteger, ForeignKey("blocks.height"), nullable=False, unique=True),
    Column("note", Text, nullable=False),  # signed note text, log signature only
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, ForeignKey("checkpoints.size"), primary_key=True),
    Column("witness", String(255), primary_key=True),
    Column("line", Text, nullable=False),  # one "— name base64" line
)

members = Table(
    "members",
    metadata,
    Column("org", String(63), primary_key=True),
    Column("name", Text, nullable=False),
    Column("roles", Text, nullable=False),  # JCS list of role strings
    Column("filing", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("added_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

member_keys = Table(
    "member_keys",
    metadata,
    Column("org", String(63), ForeignKey("members.org"), primary_key=True),
    Column("key_id", String(8), primary_key=True),
    Column("vkey", Text, nullable=False),
    Column("added_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

nonces = Table(
    "nonces",
    metadata,
    Column("org", String(63), primary_key=True),
    Column("nonce", String(88), primary_key=True),
    Column("idx", BigInteger, nullable=False, unique=True),
)

RAW_TABLES = (blocks, entries, nodes, checkpoints, cosignatures)
DERIVED_TABLES = (members, member_keys, nonces)
