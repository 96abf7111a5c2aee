"""Deposit numbers: `EV-` and the deposit's log index, eight digits or more.

The number is the index, so anyone who verifies the deposit's inclusion proof has verified its
number too: no table maps numbers to entries, and none can be forged to point elsewhere.
"""

from __future__ import annotations

import re

PREFIX = "EV-"
PATTERN = r"^EV-[0-9]{8,16}$"
_NUMBER = re.compile(PATTERN)


def deposit_number(index: int) -> str:
    return f"{PREFIX}{index:08d}"


def deposit_index(number: str) -> int | None:
    """The log index a deposit number names, or None if it is not a deposit number."""
    if not _NUMBER.fullmatch(number):
        return None
    index = int(number[len(PREFIX) :])
    # One number per deposit: EV-000000042 (nine digits) is not another name for EV-00000042.
    return index if deposit_number(index) == number else None
