"""Reads and writes of the ledger's tables over one Connection. Never commits: the caller's unit
of work (ledger.storage.engine.write_transaction) owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Dialect,
    Enum,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    TextClause,
    TypeDecorator,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect

from ledger.core import merkle
from ledger.core.block import BlockHeader, decode_header
from ledger.core.canonical import canonical_bytes
from ledger.storage.tables import (
    DERIVED_TABLES,
    SPAN_LEVELS,
    UPPER_SPAN,
    blocks,
    checkpoints,
    cosignatures,
    entries,
    member_keys,
    members,
    node_span,
    node_span_sql,
    nodes,
    nonces,
)

IN_CHUNK = 400  # coordinates per IN (...) list; far below every backend's parameter limit


# The statements every block commit runs, built once: SQLAlchemy then reuses their cache key and
# compiled form, where building a select per call cost more than SQLite takes to answer it.
_HEAD = select(blocks.c.header).order_by(blocks.c.height.desc()).limit(1)
_INSERT_BLOCK = insert(blocks)
_INSERT_CHECKPOINT = insert(checkpoints)
_MEMBER = select(members).where(members.c.org == bindparam("org"))
_ALL_MEMBERS = select(members).order_by(members.c.org)
_LATEST_CHECKPOINT = (
    select(checkpoints.c.size, checkpoints.c.note).order_by(checkpoints.c.size.desc()).limit(1)
)
_CHECKPOINT_AT = select(checkpoints.c.size, checkpoints.c.note).where(
    checkpoints.c.size == bindparam("size")
)
_COSIGNATURE_LINES = (
    select(cosignatures.c.line)
    .where(cosignatures.c.size == bindparam("size"))
    .order_by(cosignatures.c.witness)
)
_KEY = select(member_keys).where(
    member_keys.c.org == bindparam("org"), member_keys.c.key_id == bindparam("key_id")
)
_ENTRY_BY_TX = select(entries).where(entries.c.tx_id == bindparam("tx_id"))
_TX_IDS_PRESENT = select(entries.c.tx_id).where(
    entries.c.tx_id.in_(bindparam("tx_ids", expanding=True))
)
_NONCES_PRESENT = select(nonces.c.nonce).where(
    nonces.c.org == bindparam("org"), nonces.c.nonce.in_(bindparam("nonces", expanding=True))
)


@lru_cache(maxsize=IN_CHUNK)
def _nodes_query(count: int) -> TextClause:
    """SELECT the nodes at `count` (level, idx) coordinates bound as :l0, :i0, :l1, ...: each
    found by its whole key, the span computed in the statement (two values bound a node)."""
    wanted = ", ".join(f"(:l{j}, :i{j})" for j in range(count))
    return text(
        f"WITH wanted (level, idx) AS (VALUES {wanted}) "
        "SELECT nodes.level, nodes.idx, nodes.hash FROM wanted JOIN nodes "
        f"ON nodes.span = {node_span_sql('wanted.level', 'wanted.idx')} "
        "AND nodes.level = wanted.level AND nodes.idx = wanted.idx"
    )


@lru_cache(maxsize=64)
def _entry_data_query(count: int) -> TextClause:
    """SELECT the bytes of the entries at `count` indexes, bound as :x0, :x1, ...: pages read
    them for each entry their snapshot has not proven yet (at 10^6 packs, a lot's first scan
    after start or after the items' reread), and SQLAlchemy's expanding IN cost 26 µs where
    this costs 15 (two entries, warm pages)."""
    wanted = ", ".join(f":x{j}" for j in range(count))
    return text(f"SELECT idx, data FROM entries WHERE idx IN ({wanted})")


@lru_cache(maxsize=64)
def _upper_levels_query(count: int) -> TextClause:
    """SELECT the nodes of `count` upper levels (span UPPER_SPAN), each from :lo to :hi - 1
    (bound as :l0, :a0, :b0, ...), in (level, idx) order: one primary-key range per level.
    The span is an equality: a range on it would leave level and idx to a scan."""
    wanted = ", ".join(f"(:l{j}, :a{j}, :b{j})" for j in range(count))
    return text(
        f"WITH wanted (level, lo, hi) AS (VALUES {wanted}) "
        "SELECT nodes.level, nodes.idx, nodes.hash FROM wanted "
        f"JOIN nodes ON nodes.span = {UPPER_SPAN} AND nodes.level = wanted.level "
        "AND nodes.idx >= wanted.lo AND nodes.idx < wanted.hi "
        "ORDER BY nodes.level, nodes.idx"
    )


@lru_cache(maxsize=2 * IN_CHUNK)
def _driver_sql(dialect: Dialect, query: TextClause) -> tuple[str, tuple[str, ...] | None]:
    """(`query` in this dialect's paramstyle, its parameter names in order if positional)."""
    compiled = query.compile(dialect=dialect)
    return compiled.string, (tuple(compiled.positiontup or ()) if compiled.positional else None)


# Column types whose values of their Python type (str, int, bool, bytes, float) reach the
# database the same from the driver alone as through SQLAlchemy: for these it converts nothing
# or only checks (Boolean) or re-coerces (float() on SQLite). A date, for one, it writes to
# SQLite as text, which the driver alone would not; an Enum (a String) stores names; a
# TypeDecorator is whatever its process_bind_param makes. Asked of each dialect's form of the
# type, so that a JSONB variant is refused on SQLite as on PostgreSQL.
_DRIVER_TYPES = (String, Integer, Boolean, LargeBinary, Float)  # Text, BigInteger among them
_CONVERTED_TYPES = (Enum, TypeDecorator)
_BOTH_DIALECTS = (SQLiteDialect(), PGDialect())  # type: ignore[no-untyped-call]  # untyped __init__


def _plain(column: Column[Any], dialect: Dialect) -> bool:
    forms = [column.type.dialect_impl(d) for d in (dialect, *_BOTH_DIALECTS)]
    return all(
        isinstance(form, _DRIVER_TYPES) and not isinstance(form, _CONVERTED_TYPES) for form in forms
    )


@lru_cache(maxsize=64)
def _insert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[str, bool]:
    """(INSERT statement for `columns` in this dialect's paramstyle, whether it is positional).
    Raises ValueError or TypeError, alike on every dialect, for columns it cannot take."""
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    converted = [c for c in columns if not _plain(table.c[c], dialect)]
    if converted:
        raise TypeError(f"{table.name}: {', '.join(converted)} need SQLAlchemy's conversion")
    # SQLAlchemy fills a Python-side default itself, as a parameter the rows would not have.
    defaulted = [c.name for c in table.columns if c.name not in columns and c.default is not None]
    if defaulted:
        raise ValueError(f"{table.name}: give {', '.join(defaulted)}: its default is Python-side")
    # A positional statement's placeholders follow the table; asked of every dialect alike, so
    # that code tried on PostgreSQL (named placeholders) does not fail on SQLite.
    in_order = tuple(c.name for c in table.columns if c.name in columns)
    if columns != in_order:
        raise ValueError(f"{table.name}: name the columns in the table's order ({in_order})")
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    if compiled.escaped_bind_names:  # the driver would be asked for names the rows lack
        escaped = ", ".join(compiled.escaped_bind_names)
        raise ValueError(f"{table.name}: {escaped} need escaping as bind names")
    if compiled.positional and tuple(compiled.positiontup or ()) != columns:
        raise ValueError(f"{table.name}: the INSERT does not take just {columns}")
    return compiled.string, compiled.positional


def insert_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT `rows` (values in the order of `columns`) with one executemany on the driver.

    A block writes thousands of plain rows, and SQLAlchemy's per-row parameter processing costs
    more than the database does (a projection's row: 15 µs through `conn.execute`, 5 µs here).
    The statement is still compiled by SQLAlchemy for the dialect, so placeholders and quoting
    are its own; the values reach the driver as they are, so give each its column's Python type.
    Only columns of plain types are allowed (TypeError otherwise), named in the table's order,
    with every column that has a Python-side default among them (ValueError otherwise)."""
    if not rows:
        return
    sql, positional = _insert_sql(conn.dialect, table, columns)
    if positional:
        conn.exec_driver_sql(sql, list(rows))
    else:
        conn.exec_driver_sql(sql, [dict(zip(columns, r, strict=True)) for r in rows])


@dataclass(frozen=True)
class StoredEntry:
    idx: int
    tx_id: str
    org: str
    type: str
    data: bytes
    block_height: int


@dataclass(frozen=True)
class MemberRow:
    org: str
    name: str
    roles: tuple[str, ...]
    filing: str
    active: bool
    added_at: int
    updated_at: int


@dataclass(frozen=True)
class KeyRow:
    org: str
    key_id: str
    vkey: str
    added_at: int
    revoked_at: int | None


class Repository:
    """Typed access to the tables; every method is one or a few statements."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- head and blocks ---------------------------------------------------------------------

    def head(self) -> BlockHeader | None:
        row = self.conn.execute(_HEAD).first()
        return None if row is None else decode_header(row.header)

    def tree_size(self) -> int:
        head = self.head()
        return 0 if head is None else head.size

    def block(self, height: int) -> BlockHeader | None:
        row = self.conn.execute(select(blocks.c.header).where(blocks.c.height == height)).first()
        return None if row is None else decode_header(row.header)

    def insert_block(self, header: BlockHeader) -> None:
        self.conn.execute(
            _INSERT_BLOCK,
            {
                "height": header.height,
                "header": header.encode(),
                "hash": header.hash(),
                "size": header.size,
            },
        )

    # --- entries -----------------------------------------------------------------------------

    def insert_entries(self, rows: Sequence[StoredEntry]) -> None:
        columns = ("idx", "tx_id", "org", "type", "data", "block_height")
        values = [(r.idx, r.tx_id, r.org, r.type, r.data, r.block_height) for r in rows]
        insert_rows(self.conn, entries, columns, values)

    def entry_by_tx(self, tx_id: str) -> StoredEntry | None:
        row = self.conn.execute(_ENTRY_BY_TX, {"tx_id": tx_id}).first()
        return None if row is None else StoredEntry(**row._mapping)

    def entry_by_index(self, idx: int) -> StoredEntry | None:
        row = self.conn.execute(select(entries).where(entries.c.idx == idx)).first()
        return None if row is None else StoredEntry(**row._mapping)

    def entry_data(self, indexes: Iterable[int]) -> dict[int, bytes]:
        wanted = sorted(set(indexes))
        found: dict[int, bytes] = {}
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i : i + IN_CHUNK]
            rows = self._run(
                _entry_data_query(len(chunk)), {f"x{j}": x for j, x in enumerate(chunk)}
            )
            found.update((index, bytes(data)) for index, data in rows)
        return found

    def governance_indexes(self, below: int) -> list[int]:
        """Indexes of the ledger's own entries (`ledger.*` types) under `below`, by the type
        index: a range, not LIKE, so both SQLite and PostgreSQL use it."""
        rows = self.conn.execute(
            select(entries.c.idx)
            .where(entries.c.type >= "ledger.", entries.c.type < "ledger/", entries.c.idx < below)
            .order_by(entries.c.idx)
        )
        return list(rows.scalars())

    def list_entries(
        self, after: int, limit: int, *, org: str | None = None, type_: str | None = None
    ) -> list[StoredEntry]:
        query = select(entries).where(entries.c.idx > after)
        if org:
            query = query.where(entries.c.org == org)
        if type_:
            query = query.where(entries.c.type == type_)
        rows = self.conn.execute(query.order_by(entries.c.idx).limit(limit))
        return [StoredEntry(**r._mapping) for r in rows]

    def list_blocks(self, after: int, limit: int) -> list[BlockHeader]:
        rows = self.conn.execute(
            select(blocks.c.header)
            .where(blocks.c.height > after)
            .order_by(blocks.c.height)
            .limit(limit)
        )
        return [decode_header(r.header) for r in rows]

    def tx_ids_in_block(self, height: int) -> list[str]:
        return list(
            self.conn.execute(
                select(entries.c.tx_id)
                .where(entries.c.block_height == height)
                .order_by(entries.c.idx)
            ).scalars()
        )

    def tx_ids_present(self, tx_ids: Iterable[str]) -> set[str]:
        wanted = list(tx_ids)
        found: set[str] = set()
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i : i + IN_CHUNK]
            found.update(self.conn.execute(_TX_IDS_PRESENT, {"tx_ids": chunk}).scalars())
        return found

    def iter_entries(self, start: int = 0, batch: int = 500) -> Iterator[StoredEntry]:
        """Entries in index order, fetched in pages so memory stays flat."""
        after = start - 1
        while True:
            rows = self.conn.execute(
                select(entries).where(entries.c.idx > after).order_by(entries.c.idx).limit(batch)
            ).all()
            for row in rows:
                yield StoredEntry(**row._mapping)
            if len(rows) < batch:
                return
            after = rows[-1].idx

    # --- Merkle nodes ------------------------------------------------------------------------

    def insert_nodes(self, rows: Iterable[tuple[int, int, bytes]]) -> None:
        """Store (level, idx, hash) rows, each under its span (tables.node_span)."""
        keyed = [(node_span(level, index), level, index, digest) for level, index, digest in rows]
        insert_rows(self.conn, nodes, ("span", "level", "idx", "hash"), keyed)

    def get_nodes(self, coords: Iterable[merkle.Coord]) -> dict[merkle.Coord, bytes]:
        """Stored node hashes for `coords`: one statement per IN_CHUNK coordinates.

        The wanted coordinates are a VALUES list joined to `nodes` by the whole key, which both
        backends answer with one primary-key search per coordinate (a row-value `IN (...)`
        makes SQLite scan the table). The statement text depends only on the count, so it is
        built and compiled once per count and dialect, and runs on the driver: an inclusion
        proof is this one statement, and SQLAlchemy's per-call parameter processing cost about
        as much as SQLite's answer.
        """
        wanted = sorted(set(coords))
        found: dict[merkle.Coord, bytes] = {}
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i : i + IN_CHUNK]
            params: dict[str, int] = {}
            for j, (level, index) in enumerate(chunk):
                params[f"l{j}"], params[f"i{j}"] = level, index
            rows = self._run(_nodes_query(len(chunk)), params)
            found.update(((level, index), bytes(digest)) for level, index, digest in rows)
        return found

    def upper_levels(self, ranges: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, bytes]]:
        """(level, idx, hash) of the stored nodes in each (level, first, end) range, idx from
        first to end - 1, in (level, idx) order, levels SPAN_LEVELS and up only (the node
        cache's): one statement, one primary-key range a level."""
        if not ranges:
            return []
        params: dict[str, int] = {}
        for j, (level, first, end) in enumerate(ranges):
            if level < SPAN_LEVELS:
                raise ValueError(f"level {level} is stored by span: not an upper level")
            params[f"l{j}"], params[f"a{j}"], params[f"b{j}"] = level, first, end
        rows = self._run(_upper_levels_query(len(ranges)), params)
        return [(level, index, bytes(digest)) for level, index, digest in rows]

    def _run(self, query: TextClause, params: dict[str, int]) -> Any:
        sql, order = _driver_sql(self.conn.dialect, query)
        if order is None:
            return self.conn.exec_driver_sql(sql, params)
        return self.conn.exec_driver_sql(sql, tuple(params[name] for name in order))

    def count_nodes(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(nodes)).scalar_one())

    # --- checkpoints and cosignatures ------------------------------------------------------------

    def insert_checkpoint(self, size: int, block_height: int, note: str) -> None:
        self.conn.execute(
            _INSERT_CHECKPOINT, {"size": size, "block_height": block_height, "note": note}
        )

    def checkpoint(self, size: int | None = None) -> tuple[int, str] | None:
        """(size, note text) of the checkpoint at `size`, or the latest one."""
        if size is None:
            row = self.conn.execute(_LATEST_CHECKPOINT).first()
        else:
            row = self.conn.execute(_CHECKPOINT_AT, {"size": size}).first()
        return None if row is None else (row.size, row.note)

    def cosignature_lines(self, size: int) -> list[str]:
        return list(self.conn.execute(_COSIGNATURE_LINES, {"size": size}).scalars())

    def add_cosignature(self, size: int, witness: str, line: str) -> None:
        self.conn.execute(insert(cosignatures).values(size=size, witness=witness, line=line))

    # --- membership projection ---------------------------------------------------------------

    def member(self, org: str) -> MemberRow | None:
        row = self.conn.execute(_MEMBER, {"org": org}).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["roles"] = tuple(json.loads(values["roles"]))
        return MemberRow(**values)

    def all_members(self) -> list[MemberRow]:
        rows = self.conn.execute(_ALL_MEMBERS).all()
        result = []
        for row in rows:
            values = dict(row._mapping)
            values["roles"] = tuple(json.loads(values["roles"]))
            result.append(MemberRow(**values))
        return result

    def upsert_member(self, row: MemberRow) -> None:
        values = {
            "name": row.name,
            "roles": canonical_bytes(sorted(row.roles)).decode(),
            "filing": row.filing,
            "active": row.active,
            "updated_at": row.updated_at,
        }
        done = self.conn.execute(update(members).where(members.c.org == row.org).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(members).values(org=row.org, added_at=row.added_at, **values))

    def key(self, org: str, key_id: str) -> KeyRow | None:
        row = self.conn.execute(_KEY, {"org": org, "key_id": key_id}).first()
        return None if row is None else KeyRow(**row._mapping)

    def all_keys(self) -> list[KeyRow]:
        rows = self.conn.execute(
            select(member_keys).order_by(member_keys.c.org, member_keys.c.added_at)
        )
        return [KeyRow(**r._mapping) for r in rows]

    def insert_key(self, row: KeyRow) -> None:
        self.conn.execute(insert(member_keys).values(**row.__dict__))

    def revoke_key(self, org: str, key_id: str, at: int) -> None:
        self.conn.execute(
            update(member_keys)
            .where(member_keys.c.org == org, member_keys.c.key_id == key_id)
            .values(revoked_at=at)
        )

    # --- nonces ------------------------------------------------------------------------------

    def nonce_index(self, org: str, nonce: str) -> int | None:
        row = self.conn.execute(
            select(nonces.c.idx).where(nonces.c.org == org, nonces.c.nonce == nonce)
        ).first()
        return None if row is None else int(row.idx)

    def insert_nonces(self, rows: Sequence[tuple[str, str, int]]) -> None:
        insert_rows(self.conn, nonces, ("org", "nonce", "idx"), rows)

    def nonces_present(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (org, nonce) pairs are already used, one statement per org and IN_CHUNK."""
        by_org: dict[str, list[str]] = {}
        for org, nonce in pairs:
            by_org.setdefault(org, []).append(nonce)
        found: set[tuple[str, str]] = set()
        for org, wanted in by_org.items():
            for i in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[i : i + IN_CHUNK]
                rows = self.conn.execute(_NONCES_PRESENT, {"org": org, "nonces": chunk})
                found.update((org, n) for n in rows.scalars())
        return found

    def nonces_for(self, first: int, last: int) -> dict[int, tuple[str, str]]:
        rows = self.conn.execute(select(nonces).where(nonces.c.idx >= first, nonces.c.idx <= last))
        return {r.idx: (r.org, r.nonce) for r in rows}

    def clear_derived(self) -> None:
        for table in reversed(DERIVED_TABLES):
            self.conn.execute(delete(table))

    def dump(self, table: Any) -> list[tuple[Any, ...]]:
        """Every row of `table`, ordered by primary key: for comparing projections."""
        return [tuple(r) for r in self.conn.execute(select(table).order_by(*table.primary_key))]
