"""A C2SP tlog-witness: cosigns the log's checkpoints only when they extend what it cosigned
before (docs/witness.md)."""
