"""The ledger's first schema: raw evidence tables and membership projections.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("height", BigId, primary_key=True, autoincrement=False),
        sa.Column("header", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_table(
        "entries",
        sa.Column("idx", BigId, primary_key=True, autoincrement=False),
        sa.Column("tx_id", sa.String(64), nullable=False, unique=True),
        sa.Column("org", sa.String(63), nullable=False),
        sa.Column("type", sa.String(130), nullable=False, index=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column(
            "block_height",
            sa.BigInteger,
            sa.ForeignKey("blocks.height"),
            nullable=False,
            index=True,
        ),
    )
    op.create_table(
        "nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", BigId, primary_key=True, autoincrement=False),
        sa.Column(
            "block_height",
            sa.BigInteger,
            sa.ForeignKey("blocks.height"),
            nullable=False,
            unique=True,
        ),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "cosignatures",
        sa.Column("size", sa.BigInteger, sa.ForeignKey("checkpoints.size"), primary_key=True),
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_table(
        "members",
        sa.Column("org", sa.String(63), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("filing", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "member_keys",
        sa.Column("org", sa.String(63), sa.ForeignKey("members.org"), primary_key=True),
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("vkey", sa.Text, nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "nonces",
        sa.Column("org", sa.String(63), primary_key=True),
        sa.Column("nonce", sa.String(88), primary_key=True),
        sa.Column("idx", sa.BigInteger, nullable=False, unique=True),
    )


def downgrade() -> None:
    for table in ("nonces", "member_keys", "members", "cosignatures", "checkpoints", "nodes"):
        op.drop_table(table)
    op.drop_table("entries")
    op.drop_table("blocks")
