"""Run the core benchmark: `python bench/core.py [--quick]` (same as `sealchain bench core`)."""

import sys

from ledger.bench.core import run

if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
