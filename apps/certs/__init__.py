"""PBoC fintech product certification: accredited bodies, 3-year certificates as W3C
credentials, surveillance, suspension, revocation and renewal, status as of any date.

The App object is registered through the `sealchain.apps` entry point in pyproject.toml.
"""

from __future__ import annotations

from apps.certs.app import APP

__all__ = ["APP"]
