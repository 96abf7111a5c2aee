"""`JSONAnswer`: a JSONResponse rendered by pydantic-core's serializer (Rust), which the API
already depends on through pydantic.

Starlette renders with the json module: a 12 KB scan answer (proof bundle, journey) took 33-49
µs, a tenth of the scan's own work, against 6.6 µs here (docs/benchmarks.md, "Scan page,
fourth round"). The JSON is the same value: `tests/unit/test_json_answer.py` parses both
renderings of generated documents and compares. Like Starlette's it is compact UTF-8.

Differences kept on purpose, where the json module raises: values of the types pydantic knows
are written as pydantic writes them (a date or datetime as ISO 8601 text, a Decimal or UUID as
text, a set or tuple as a list, an Enum as its value, a dataclass as an object, a None key as
"None"), bytes as UTF-8 text and a non-finite float as null; an object of any other type still
fails. None of these reaches an answer today: every value comes from entries the strict parser
admitted (no NaN, no Infinity, ledger.core.canonical) or from our own code's str, int, bool and
float, and no table has a Numeric column (which PostgreSQL would give as a Decimal, written as
text, where SQLite gives a float). Convert such a value before answering with it.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.responses import JSONResponse


class JSONAnswer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content, inf_nan_mode="null")
