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

SPAN = "CASE WHEN level < 5 THEN (idx << level) >> 5 ELSE -1 END"


def _rename_aside(old: str) -> None:
    op.rename_table("nodes", old)
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL keeps the primary key's index name with the table: free it for the new one.
        op.execute(f"ALTER INDEX nodes_pkey RENAME TO {old}_pkey")


def upgrade() -> None:
    _rename_aside("nodes_by_level")
    op.create_table(
        "nodes",
        sa.Column("span", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.CheckConstraint(f"span = {SPAN}", name="nodes_span"),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO nodes (span, level, idx, hash) SELECT {SPAN}, level, idx, hash "
        "FROM nodes_by_level ORDER BY 1, 2, 3"
    )
    op.drop_table("nodes_by_level")


def downgrade() -> None:
    _rename_aside("nodes_by_span")
    op.create_table(
        "nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO nodes (level, idx, hash) SELECT level, idx, hash FROM nodes_by_span "
        "ORDER BY level, idx"
    )
    op.drop_table("nodes_by_span")
