"""What a status is called on pages and in PDFs (marked for the catalogs, translated when
shown); certificate.js names them the same way for the browser."""

from __future__ import annotations

from ledger.plugin import N_

STATUS = {
    "valid": N_("Valid"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
    "expired": N_("Expired"),
    "not-yet-valid": N_("Not yet valid"),
    "non-compliant": N_("Non-compliant: a failed surveillance was not acted on"),
}
