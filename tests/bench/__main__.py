"""`python -m tests.bench [orders]`: print the benchmark figures (see tests/bench/order_sync.py)."""

import sys

from tests.bench.order_sync import main

sys.exit(main(sys.argv[1:]))
