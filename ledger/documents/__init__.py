"""Printable, signed documents: PDF certificates with a QR code, signed PAdES B-T with the
ledger's own timestamps (docs/documents.md)."""
