"""DriverQuery answers what Connection.execute answers for the same statement, on SQLite and
PostgreSQL, and raises the driver's errors as SQLAlchemy's."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    exc,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB

from ledger.storage.driver_query import DriverQuery
from ledger.storage.engine import make_engine, read_transaction, write_transaction
from ledger.storage.repository import insert_rows

META = MetaData()
THINGS = Table(
    "things",
    META,
    Column("name", String(40), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("held", Boolean, nullable=False),
    Column("weight", Float),
    Column("blob", LargeBinary),
    Column("idx", Integer),
)
ROWS = [
    {"name": f"n{i}", "kind": "pack" if i % 3 else "carton", "held": i % 2 == 0,
     "weight": i / 7, "blob": bytes([i]) * i, "idx": None if i % 4 == 0 else i}
    for i in range(12)
]  # fmt: skip

COPIES = Table(
    "copies", META, *(Column(c.name, c.type, primary_key=c.primary_key) for c in THINGS.c)
)
THING_COLUMNS = tuple(THINGS.c.keys())

STAMPED = Table(
    "stamped",
    META,
    Column("name", String(40), primary_key=True),
    Column("at", DateTime, nullable=False),
)

SERVED = Table(
    "served",
    META,
    Column("name", String(40), primary_key=True),
    Column("n", Integer, nullable=False, server_default=text("7")),
)


class Shouting(TypeDecorator[str]):
    """A type whose values SQLAlchemy changes on the way in."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.upper()


# Never created: every insert into these is refused before a statement runs.
REFUSED = MetaData()
CONVERTED = Table(
    "converted",
    REFUSED,
    Column("name", String(40), primary_key=True),
    Column("kind", Enum("pack", "carton", name="kind")),
    Column("doc", String().with_variant(JSONB(), "postgresql")),
    Column("loud", Shouting()),
    Column("seen", Integer, default=0),
    Column("shelf no", String(10)),  # a bind name SQLAlchemy escapes
)

BY_NAME = select(THINGS).where(THINGS.c.name == bindparam("name"), THINGS.c.kind == "pack")
BY_KIND = select(THINGS.c.name, THINGS.c.idx).where(THINGS.c.kind == bindparam("kind"))
FACTS = union_all(
    select(literal("thing").label("fact"), THINGS.c.name, null().label("absent")).where(
        THINGS.c.idx > bindparam("above")
    ),
    select(literal("other"), THINGS.c.kind, null()).where(THINGS.c.name == bindparam("name")),
).order_by("fact", "name")


@pytest.fixture
def engine(tmp_path: Path, db_url: str | None) -> Iterator[Engine]:
    made = make_engine(db_url or f"sqlite:///{tmp_path / 'things.db'}")
    META.create_all(made)
    with write_transaction(made) as conn:
        conn.execute(insert(THINGS), ROWS)
    yield made
    made.dispose()


def _same(engine: Engine, query: DriverQuery, **params: object) -> None:
    with read_transaction(engine) as conn:
        ours = query.rows(conn, **params)
        theirs = conn.execute(query.statement, params).all()
    assert [r._fields for r in ours[:1]] == [tuple(query.names)] * min(1, len(ours))
    # Values as the driver gives them: a BOOLEAN may come as 0/1, a blob as memoryview.
    normal = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in ours]
    assert normal == [tuple(r) for r in theirs]


def test_rows_equal_sqlalchemys(engine: Engine) -> None:
    for name in ("n1", "n3", "n5", "nobody"):
        _same(engine, DriverQuery(BY_NAME), name=name)
    _same(engine, DriverQuery(BY_KIND), kind="carton")
    _same(engine, DriverQuery(FACTS), above=6, name="n2")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# The engine is read only: one for every example.
@given(above=st.integers(-2, 14), name=st.sampled_from([r["name"] for r in ROWS] + ["x"]))
def test_literal_and_named_parameters_in_any_order(engine: Engine, above: int, name: str) -> None:
    query = DriverQuery(FACTS)
    with read_transaction(engine) as conn:
        got = [(r.fact, r.name) for r in query.rows(conn, name=name, above=above)]
    others = [("other", r["kind"]) for r in ROWS if r["name"] == name]
    things = [("thing", r["name"]) for r in ROWS if r["idx"] is not None and r["idx"] > above]
    want = sorted(others + things)
    assert got == want


def test_first_and_named_fields(engine: Engine) -> None:
    query = DriverQuery(BY_NAME)
    with read_transaction(engine) as conn:
        row = query.first(conn, name="n5")
        assert query.first(conn, name="n3") is None  # n3 is a carton
    assert row is not None
    assert (row.name, row.kind, bool(row.held), row.idx) == ("n5", "pack", False, 5)


def test_driver_errors_are_sqlalchemys(engine: Engine) -> None:
    missing = Table("missing", MetaData(), Column("a", Integer))
    query = DriverQuery(select(missing.c.a).where(missing.c.a == bindparam("a")))
    with read_transaction(engine) as conn, pytest.raises(exc.DBAPIError) as theirs:
        conn.execute(query.statement, {"a": 1})
    with read_transaction(engine) as conn, pytest.raises(exc.DBAPIError) as ours:
        query.rows(conn, a=1)
    # The same class as execute raises (OperationalError on SQLite, ProgrammingError on
    # PostgreSQL): callers that catch one, as standby fallback does, still catch it.
    assert type(ours.value) is type(theirs.value)
    assert type(ours.value.orig) is type(theirs.value.orig)


def test_expanding_parameters_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="expanding IN"):
        DriverQuery(
            select(THINGS.c.name).where(THINGS.c.name.in_(bindparam("names", expanding=True)))
        )


def test_parameters_are_bound_as_their_types_bind_them(engine: Engine) -> None:
    """A DateTime is stored by SQLite as SQLAlchemy writes it (a string): passed to the driver
    as a datetime it matched no row, with no error."""
    when = datetime(2026, 12, 4, 20, 30, 1)  # SQLAlchemy stores "...:01.000000"; sqlite3 ":01"
    with write_transaction(engine) as conn:
        conn.execute(insert(STAMPED), [{"name": "a", "at": when}])
    by_time = DriverQuery(select(STAMPED.c.name).where(STAMPED.c.at == bindparam("at")))
    at_noon = DriverQuery(
        select(STAMPED.c.name).where(STAMPED.c.at > literal(datetime(2026, 12, 4, 12, 0)))
    )
    with read_transaction(engine) as conn:
        assert [r.name for r in by_time.rows(conn, at=when)] == ["a"]
        assert [r.name for r in at_noon.rows(conn)] == ["a"]
        assert by_time.rows(conn, at=when.replace(second=2)) == []


def test_a_literal_given_as_a_callable_is_called(engine: Engine) -> None:
    query = DriverQuery(
        select(THINGS.c.name).where(THINGS.c.name == bindparam("n", callable_=lambda: "n4"))
    )
    with read_transaction(engine) as conn:
        assert [r.name for r in query.rows(conn)] == ["n4"]


def test_a_connection_without_a_transaction_begins_one_as_execute_does(engine: Engine) -> None:
    with engine.connect() as conn:
        assert not conn.in_transaction()
        assert len(DriverQuery(BY_KIND).rows(conn, kind="pack")) == 8
        assert conn.in_transaction()
        conn.rollback()


def test_an_engine_dropped_leaves_no_compilation_behind(tmp_path: Path) -> None:
    query = DriverQuery(BY_KIND)
    made = make_engine(f"sqlite:///{tmp_path / 'dropped.db'}")
    META.create_all(made)
    with read_transaction(made) as conn:
        assert query.rows(conn, kind="pack") == []
    assert len(query._compiled) == 1
    made.dispose()
    del made, conn
    gc.collect()
    assert len(query._compiled) == 0


def test_rows_inserted_on_the_driver_read_back_as_sqlalchemys(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        insert_rows(conn, COPIES, THING_COLUMNS, [tuple(r[c] for c in THING_COLUMNS) for r in ROWS])
    with read_transaction(engine) as conn:
        copied = conn.execute(select(COPIES).order_by(COPIES.c.name)).all()
        inserted = conn.execute(select(THINGS).order_by(THINGS.c.name)).all()
    assert [tuple(r) for r in copied] == [tuple(r) for r in inserted]
    assert len(copied) == len(ROWS)


def test_rows_for_the_driver_name_their_columns_in_order_and_of_plain_types(engine: Engine) -> None:
    """The same refusals on both backends, whatever their placeholders; nothing is written."""
    row = tuple(ROWS[0][c] for c in THING_COLUMNS)
    with write_transaction(engine) as conn:
        with pytest.raises(ValueError, match="order"):
            insert_rows(conn, COPIES, THING_COLUMNS[::-1], [row[::-1]])
        with pytest.raises(TypeError, match="at"):
            insert_rows(conn, STAMPED, ("name", "at"), [("n", datetime(2026, 1, 1))])
    with read_transaction(engine) as conn:
        assert conn.execute(select(COPIES)).all() == []


@pytest.mark.parametrize(
    ("columns", "error", "reason"),
    [
        (("name", "kind", "seen"), TypeError, "^converted: kind need SQLAlchemy's conversion$"),
        (("name", "doc", "seen"), TypeError, "^converted: doc need SQLAlchemy's conversion$"),
        (("name", "loud", "seen"), TypeError, "^converted: loud need SQLAlchemy's conversion$"),
        (("name",), ValueError, "^converted: give seen: its default is Python-side$"),
        (("name", "size", "seen"), ValueError, "^converted has no column size$"),
        (("name", "seen", "shelf no"), ValueError, "^converted: shelf no need escaping as"),
    ],
)
def test_columns_the_driver_cannot_fill_alone_are_refused_on_every_backend(
    engine: Engine, columns: tuple[str, ...], error: type[Exception], reason: str
) -> None:
    """An Enum stores names, a JSONB variant and a TypeDecorator convert, and a Python-side
    default is a parameter the rows lack: SQLAlchemy's work all, which the driver would skip."""
    with write_transaction(engine) as conn, pytest.raises(error, match=reason):
        insert_rows(conn, CONVERTED, columns, [tuple("x" for _ in columns)])


def test_a_column_left_to_its_server_default_gets_it(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        insert_rows(conn, SERVED, ("name",), [("a",), ("b",)])
    with read_transaction(engine) as conn:
        assert conn.execute(select(SERVED).order_by(SERVED.c.name)).all() == [("a", 7), ("b", 7)]
