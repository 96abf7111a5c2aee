"""Merkle nodes keyed by (span, level, idx): the low nodes of one inclusion proof share a page.

Below level 5 a node's span is the index of the 32-leaf span it lies in, (idx << level) >> 5;
at level 5 and above it is -1. Nodes were keyed (level, idx), so a proof's five low nodes
(levels 0-4, which the node cache does not hold) sat on five pages, one per level; at 10^6
entries those pages are rarely in a connection's page cache, and reading them was most of what
a proof at 10^6 cost more than one at 10^3 (docs/benchmarks.md, "Proofs, third round").

The rows are copied into the new table in key order, one statement, in the migration's
transaction (so under the write lock): about 2 x 10^6 rows for a ledger of 10^6 entries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SPAN = "CASE WHEN level < 5 THEN (CAST(idx AS BIGINT) << level) >> 5 ELSE -1 END"


def _rebuild(aside: str, key: list[sa.Column[int]], constraints: list[sa.CheckConstraint]) -> None:
    """Recreate `nodes` keyed by `key` (then hash), its rows copied from the old table (renamed
    to `aside`, then dropped) in the new key's order; a `span` column is computed (SPAN)."""
    op.rename_table("nodes", aside)
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL keeps the primary key's index name with the table: free it for the new one.
        op.execute(f"ALTER INDEX nodes_pkey RENAME TO {aside}_pkey")
    op.create_table(
        "nodes",
        *key,
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        *constraints,
        sqlite_with_rowid=False,
    )
    names = ", ".join(column.name for column in key)
    values = ", ".join(SPAN if column.name == "span" else column.name for column in key)
    op.execute(
        f"INSERT INTO nodes ({names}, hash) SELECT {values}, hash FROM {aside} "
        f"ORDER BY {', '.join(str(n + 1) for n in range(len(key)))}"
    )
    op.drop_table(aside)


def _level_and_idx() -> list[sa.Column[int]]:
    return [
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    ]


def upgrade() -> None:
    span = sa.Column("span", sa.BigInteger, primary_key=True, autoincrement=False)
    check = sa.CheckConstraint(f"span = {SPAN}", name="nodes_span")
    _rebuild("nodes_by_level", [span, *_level_and_idx()], [check])


def downgrade() -> None:
    _rebuild("nodes_by_span", _level_and_idx(), [])
