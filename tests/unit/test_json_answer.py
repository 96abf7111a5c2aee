"""JSONAnswer renders the same JSON value as Starlette's JSONResponse, compactly."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from ledger.api.json_answer import JSONAnswer

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)


@given(_JSON)
def test_the_same_value_as_starlettes_rendering(value: Any) -> None:
    ours, theirs = JSONAnswer(value).body, JSONResponse(value).body
    assert json.loads(ours) == json.loads(theirs) == value
    assert b"\n" not in ours  # compact: no indentation, whatever the value


def test_compact_utf8_as_starlette_writes_it() -> None:
    value = {"lot": "L/26", "place": "上海", "t": -1.5, "n": None, "ok": [True, 3]}
    assert JSONAnswer(value).body == JSONResponse(value).body
    assert JSONAnswer(value).headers["content-type"] == "application/json"


def test_what_is_not_json_still_fails() -> None:
    with pytest.raises(Exception, match="Unable to serialize"):
        JSONAnswer({"when": object()})


def test_types_the_json_module_refuses_are_written_as_documented() -> None:
    """The module docstring's list: a change in pydantic-core's rendering shows here."""
    written = JSONAnswer(
        {"day": date(2026, 12, 4), "price": Decimal("1.50"), "tags": {"x"}, "pair": (1, 2)}
    ).body
    assert json.loads(written) == {
        "day": "2026-12-04",
        "price": "1.50",
        "tags": ["x"],
        "pair": [1, 2],
    }
