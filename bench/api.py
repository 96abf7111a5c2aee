"""Run the API benchmark: `python bench/api.py` (same as `sealchain bench api`)."""

from ledger.bench.api import run

if __name__ == "__main__":
    run()
