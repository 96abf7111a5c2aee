"""Beef provenance: Australian chilled beef to Chinese stores, pack by pack (docs/beef.md).

The App object is registered through the `sealchain.apps` entry point in pyproject.toml.
"""

from __future__ import annotations

from apps.beef.app import APP

__all__ = ["APP"]
