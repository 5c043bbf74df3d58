"""python -m shared.provision dataverse|amazon ... (see cli.py)."""

from shared.provision.cli import main

raise SystemExit(main())
