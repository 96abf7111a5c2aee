"""A witness's memory: the latest checkpoint it cosigned per log origin, in its own database,
advanced only by compare-and-swap (the spec's atomicity requirement: two requests that both
start from size N must not both be cosigned)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ledger.witness.protocol import Cosigned

metadata = MetaData()
cosigned = Table(
    "witness_cosigned",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),  # the checkpoint as submitted: evidence, if need be
)


class DatabaseState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def latest(self, origin: str) -> Cosigned | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(cosigned.c.size, cosigned.c.root).where(cosigned.c.origin == origin)
            ).first()
        return None if row is None else Cosigned(int(row.size), bytes(row.root))

    def swap(self, origin: str, old: Cosigned | None, new: Cosigned, note: str) -> bool:
        with self.engine.begin() as conn:
            if old is None:
                try:
                    conn.execute(
                        insert(cosigned).values(
                            origin=origin, size=new.size, root=new.root, note=note
                        )
                    )
                except IntegrityError:
                    return False
                return True
            done = conn.execute(
                update(cosigned)
                .where(
                    cosigned.c.origin == origin,
                    cosigned.c.size == old.size,
                    cosigned.c.root == old.root,
                )
                .values(size=new.size, root=new.root, note=note)
            )
            return done.rowcount == 1
