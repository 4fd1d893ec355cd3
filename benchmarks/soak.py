"""Full-size fault soak and 429 storm: prints the figures ``benchmarks/README.md`` quotes.

The harness is ``tests/reliability/soak.py``, beside the tests that assert it at a reduced size
(``tests/reliability/test_soak.py`` and ``test_rate_limit_storm.py``); this script runs it at full size:

    python benchmarks/soak.py [--size 200] [--concurrency 16] [--storm] [--storm-triggers 500] [--storm-seconds 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

# The harness and its stand-ins (tests/fakes.py) import as the test suite sees them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reliability.soak import main

if __name__ == "__main__":
    sys.exit(main())
