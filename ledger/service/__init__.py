"""The service layer: the validation pipeline, the sequencer and its group commit, projections,
the audit and reindex, and the App registry. Pure verification lives in ledger.core; storage in
ledger.storage; HTTP in ledger.api."""
