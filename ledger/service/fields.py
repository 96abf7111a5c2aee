"""Text fields for record bodies: what a page shows must be what was signed, character for
character, so text that a browser or a terminal would change or hide is refused at submit.

HTML turns a carriage return into a line feed; control characters print as nothing or move
the cursor; bidirectional overrides reorder what is read. `OneLine` refuses all of them;
`Lines` allows line feeds. Use them as the last item of an `Annotated` field:

    name: Annotated[str, Field(min_length=1, max_length=60), OneLine]
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

# Unicode general category Cc (C0, DEL, C1) and the bidirectional formatting characters.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSHOWABLE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_UNSHOWABLE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _refuse(pattern: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found is not None:
            code = f"U+{ord(found.group()):04X}"
            name = unicodedata.name(found.group(), "")
            what = f"{name} ({code})" if name else f"control character {code}"
            raise ValueError(
                f"contains {what} at position {found.start()}: text shown to people may not "
                "hold control or bidirectional formatting characters"
            )
        return value

    return AfterValidator(check)


OneLine = _refuse(_UNSHOWABLE)
Lines = _refuse(_UNSHOWABLE_BUT_NEWLINE)

Text = Annotated[str, Field(min_length=1, max_length=200), OneLine]
"""A single line shown as signed (a name, a place, a product): 1-200 characters."""

Paragraph = Annotated[str, Field(min_length=1, max_length=2000), Lines]
"""Text shown as signed that may span lines: 1-2000 characters."""
