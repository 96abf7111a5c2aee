"""Status as of a date, on the boundaries: first and last valid day, the day of suspension and
of reinstatement, revocation, and the deadline after a failed surveillance."""

from __future__ import annotations

from datetime import date, timedelta

from apps.certs.status import GRACE_DAYS, Event, status_on

FROM, UNTIL = date(2019, 11, 15), date(2022, 11, 14)
DAY = timedelta(days=1)


def _on(day: date, events: list[Event]) -> str:
    return status_on(day, FROM, UNTIL, 1, events).status


def test_validity_boundaries() -> None:
    assert _on(FROM - DAY, []) == "not-yet-valid"
    assert _on(FROM, []) == "valid"
    assert _on(UNTIL, []) == "valid"
    assert _on(UNTIL + DAY, []) == "expired"


def test_suspension_holds_from_its_day_until_the_day_of_reinstatement() -> None:
    suspended, reinstated = date(2021, 3, 1), date(2021, 4, 10)
    events = [Event("suspend", suspended, 5), Event("reinstate", reinstated, 6)]
    assert _on(suspended - DAY, events) == "valid"
    assert _on(suspended, events) == "suspended"
    assert _on(reinstated - DAY, events) == "suspended"
    assert _on(reinstated, events) == "valid"
    assert status_on(suspended, FROM, UNTIL, 1, events).rests_on == (1, 5)


def test_revocation_is_final_even_after_expiry() -> None:
    revoked = date(2020, 6, 1)
    events = [Event("revoke", revoked, 9)]
    assert _on(revoked - DAY, events) == "valid"
    assert _on(revoked, events) == "revoked"
    assert _on(UNTIL + DAY, events) == "revoked"


def test_a_failed_surveillance_unanswered_makes_it_non_compliant_at_the_deadline() -> None:
    failed = date(2021, 2, 1)
    deadline = failed + timedelta(days=GRACE_DAYS + 1)
    events = [Event("surveil-fail", failed, 3)]
    assert _on(failed, events) == "valid"
    assert _on(deadline - DAY, events) == "valid"
    assert _on(deadline, events) == "non-compliant"
    answered = [*events, Event("suspend", deadline - DAY, 4)]
    assert _on(deadline, answered) == "suspended"
    passed = [*events, Event("surveil-pass", failed + 10 * DAY, 4)]
    assert _on(deadline, passed) == "valid"
    late = [*events, Event("suspend", deadline + 5 * DAY, 4)]
    assert _on(deadline, late) == "non-compliant"
    assert _on(deadline + 5 * DAY, late) == "suspended"
