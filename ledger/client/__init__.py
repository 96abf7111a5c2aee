"""LedgerClient: sign, submit, fetch and verify receipts offline; errors as ledger.errors."""

from ledger.client.client import LedgerClient, check_receipt

__all__ = ["LedgerClient", "check_receipt"]
