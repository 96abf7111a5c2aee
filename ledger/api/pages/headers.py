"""Headers for pages and their static files: scripts and styles from this origin only."""

from __future__ import annotations

# No inline script or style anywhere: data reaches scripts as JSON in <script type=
# application/json> elements (embed.script_json), which a CSP without 'unsafe-inline' allows.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
