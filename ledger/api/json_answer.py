"""`JSONAnswer`: a JSONResponse rendered by pydantic-core's serializer (Rust), which the API
already depends on through pydantic.

Starlette renders with the json module: a 12 KB scan answer (proof bundle, journey) took 33-49
µs, a tenth of the scan's own work, against 6.6 µs here (docs/benchmarks.md, "Scan page,
fourth round"). The JSON is the same value: `tests/unit/test_json_answer.py` parses both
renderings of generated documents and compares. Like Starlette's it is compact UTF-8.

Differences kept on purpose: a value that is not JSON (an object of another type) still fails,
but bytes would be written as UTF-8 text, and a non-finite float as null, where the json
module raises. Neither reaches an answer: every value comes from entries the strict parser
admitted (no NaN, no Infinity, ledger.core.canonical) or from our own code's str and int.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.responses import JSONResponse


class JSONAnswer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content, inf_nan_mode="null")
