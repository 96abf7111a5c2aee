"""Run the core benchmark: `python bench/core.py` (same as `sealchain bench core`)."""

from ledger.bench.core import run

if __name__ == "__main__":
    run()
