"""Evidence notarization for internet courts: hash-only deposits, evidence certificates, RFC 3161
timestamps, cases and custody, prior-work similarity (docs/evidence.md).

The App object is registered through the `sealchain.apps` entry point in pyproject.toml.
"""

from __future__ import annotations

from apps.evidence.app import APP

__all__ = ["APP"]
