"""A certificate's status on any date, from its history alone (pure: the API, the CLI and the
tests all call this one function).

valid from `valid_from` through `valid_until` (inclusive days); before, not yet valid; after,
expired. A suspension holds from its date until a reinstatement's date (the day of
reinstatement is valid again); a revocation holds from its date on, for good. A failed
surveillance must be followed by a suspension or revocation within `grace_days`: if neither
came (nor a passing surveillance), the certificate is non-compliant from the deadline (the day
after the last day of grace) until one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

GRACE_DAYS = 30


@dataclass(frozen=True)
class Event:
    kind: str  # surveil-pass, surveil-fail, suspend, reinstate, revoke
    day: date
    index: int  # log index of the entry: what the answer rests on


@dataclass(frozen=True)
class Status:
    status: str  # valid, suspended, revoked, expired, not-yet-valid, non-compliant
    since: date | None
    rests_on: tuple[int, ...]  # log indexes of the entries that decide it


def status_on(
    day: date,
    valid_from: date,
    valid_until: date,
    issued_index: int,
    events: list[Event],
    grace_days: int = GRACE_DAYS,
) -> Status:
    """The status on `day`, given the certificate's events in log order."""
    happened = [e for e in events if e.day <= day]
    revoked = next((e for e in happened if e.kind == "revoke"), None)
    if revoked is not None:
        return Status("revoked", revoked.day, (issued_index, revoked.index))
    if day < valid_from:
        return Status("not-yet-valid", None, (issued_index,))
    if day > valid_until:
        return Status("expired", valid_until + timedelta(days=1), (issued_index,))
    suspended: Event | None = None
    failed: Event | None = None
    for event in happened:
        if event.kind == "suspend":
            suspended, failed = event, None  # the body acted on the failure
        elif event.kind == "reinstate":
            suspended = None
        elif event.kind == "surveil-fail":
            failed = event
        elif event.kind == "surveil-pass":
            failed = None
    if suspended is not None:
        return Status("suspended", suspended.day, (issued_index, suspended.index))
    if failed is not None:
        deadline = failed.day + timedelta(days=grace_days + 1)
        if day >= deadline:
            return Status("non-compliant", deadline, (issued_index, failed.index))
    return Status("valid", valid_from, (issued_index,))
