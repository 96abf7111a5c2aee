"""LedgerClient: sign, submit, fetch and verify receipts offline; errors as ledger.errors."""

from ledger.client.client import LedgerClient

__all__ = ["LedgerClient"]
