"""The evidence projection's tables, derived from entries (rebuilt by `sealchain reindex`).

evidence_deposits holds deposits and RFC 3161 stamps alike: a file checked against the ledger
is found whichever way its hash came in. evidence_pdfs is off the ledger: each signed PDF
certificate made, kept so that downloading it again does not stamp it again.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

deposits = Table(
    "evidence_deposits",
    metadata,
    Column("idx", BigInteger, primary_key=True),  # the deposit number is EV-<idx>
    Column("tx_id", String(64), nullable=False),
    Column("org", String(63), nullable=False),
    Column("kind", String(10), nullable=False),  # deposit, stamp
    Column("sha256", String(64), nullable=True, index=True),
    Column("sha3_256", String(64), nullable=True, index=True),
    Column("digest", String(128), nullable=True, index=True),  # a stamp's digest, any algorithm
    Column("algorithm", String(10), nullable=False),
    Column("title", Text, nullable=True),
    Column("category", String(20), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("iscc", String(40), nullable=True),
    Column("iscc_bits", BigInteger, nullable=True),  # the 64-bit body, signed, for similarity
    Column("block_height", BigInteger, nullable=False),
    Column("block_time", String(40), nullable=False),
)
Index("evidence_deposits_iscc", deposits.c.idx, postgresql_where=deposits.c.iscc_bits.isnot(None))

cases = Table(
    "evidence_cases",
    metadata,
    Column("case_no", String(60), primary_key=True),
    Column("court", String(63), nullable=False),
    Column("title", Text, nullable=False),
    Column("cause", Text, nullable=False),
    Column("parties", Text, nullable=False),  # JSON list of orgs
    Column("opened_idx", BigInteger, nullable=False),
    Column("sealed_idx", BigInteger, nullable=True),
    Column("judgment_idx", BigInteger, nullable=True),
)

case_deposits = Table(
    "evidence_case_deposits",
    metadata,
    Column("case_no", String(60), primary_key=True),
    Column("deposit_idx", BigInteger, primary_key=True),
    Column("org", String(63), nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("decided_idx", BigInteger, nullable=True),  # admitted or excluded: final
    Column("appraiser", String(63), nullable=True),  # sent for appraisal to
)

custody = Table(
    "evidence_custody",
    metadata,
    Column("idx", BigInteger, primary_key=True),
    Column("case_no", String(60), nullable=False, index=True),
    Column("record_type", String(30), nullable=False),
    Column("org", String(63), nullable=False),
    Column("event", String(20), nullable=False),
    Column("deposit_idx", BigInteger, nullable=True),
    Column("detail", Text, nullable=True),
    Column("block_time", String(40), nullable=False),
)

pdfs = Table(
    "evidence_pdfs",
    metadata,
    Column("idx", BigInteger, primary_key=True),
    Column("locale", String(10), primary_key=True),
    Column("pdf", LargeBinary, nullable=False),
    Column("stamp_idx", BigInteger, nullable=False),  # the evidence.stamp of its signature
)

DERIVED = (custody, case_deposits, cases, deposits)
