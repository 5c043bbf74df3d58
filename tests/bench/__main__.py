"""`python -m tests.bench [orders]`: print the benchmark figures (tests/bench/order_sync.py, bridge.py, sweep.py,
settlements.py, telemetry.py, crm_to_amazon.py)."""

import sys

from tests.bench import bridge, crm_to_amazon, order_sync, settlements, sweep, telemetry

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
order_sync.main([str(count)])
print()
bridge.main(count)
print()
sweep.main()
print()
settlements.main([])
print()
telemetry.main(count)
print()
crm_to_amazon.main([])
