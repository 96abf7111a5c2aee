// A certificate's status on a day, from its signed history: the JavaScript twin of
// apps/certs/status.py (tests hold the two to the same answers).
export const GRACE_DAYS = 30;

function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// events: [{kind, day, index}] in log order; days are "YYYY-MM-DD" strings (they sort as dates).
export function statusOn(day, validFrom, validUntil, events, graceDays = GRACE_DAYS) {
  const happened = events.filter((e) => e.day <= day);
  const revoked = happened.find((e) => e.kind === "revoke");
  if (revoked) return { status: "revoked", since: revoked.day };
  if (day < validFrom) return { status: "not-yet-valid", since: null };
  if (day > validUntil) return { status: "expired", since: addDays(validUntil, 1) };
  let suspended = null;
  let failed = null;
  for (const event of happened) {
    if (event.kind === "suspend") { suspended = event; failed = null; }
    else if (event.kind === "reinstate") suspended = null;
    else if (event.kind === "surveil-fail") failed = event;
    else if (event.kind === "surveil-pass") failed = null;
  }
  if (suspended) return { status: "suspended", since: suspended.day };
  if (failed) {
    const deadline = addDays(failed.day, graceDays + 1);
    if (day >= deadline) return { status: "non-compliant", since: deadline };
  }
  return { status: "valid", since: validFrom };
}
