"""The storage layout's premise (ledger/storage/tables.py): every node of an inclusion proof
below SPAN_LEVELS lies in the proven leaf's own span or, for the parts of a right edge cut
short, in the tree's last span, so a proof's low nodes share a few pages; and node_span in
Python is the CHECK's expression in SQL."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.storage.tables import SPAN_LEVELS, UPPER_SPAN, node_span, node_span_sql


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=1 << 40))
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@given(index_and_size())
def test_the_low_nodes_of_a_proof_lie_in_the_leafs_span(case: tuple[int, int]) -> None:
    index, size = case
    coords = merkle.inclusion_nodes(index, size)
    assert {node_span(level, i) for level, i in coords if level < SPAN_LEVELS} <= {
        index >> SPAN_LEVELS,
        (size - 1) >> SPAN_LEVELS,
    }
    assert {node_span(level, i) for level, i in coords if level >= SPAN_LEVELS} <= {UPPER_SPAN}


@given(st.integers(min_value=0, max_value=62), st.integers(min_value=0, max_value=1 << 40))
def test_the_sql_expression_is_node_span(level: int, index: int) -> None:
    with sqlite3.connect(":memory:") as db:
        sql = f"SELECT {node_span_sql('w.level', 'w.idx')} FROM (SELECT ? AS level, ? AS idx) w"
        assert db.execute(sql, (level, index)).fetchone()[0] == node_span(level, index)
