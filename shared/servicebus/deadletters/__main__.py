"""python -m shared.servicebus.deadletters list|replay ... (see cli.py)."""

from shared.servicebus.deadletters.cli import main

raise SystemExit(main())
