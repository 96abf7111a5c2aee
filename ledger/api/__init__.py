"""The HTTP API (FastAPI). `create_app(settings)` builds it for one worker process."""

from ledger.api.app import create_app

__all__ = ["create_app"]
