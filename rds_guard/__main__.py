"""``python -m rds_guard``: the rds-guard command."""

from rds_guard.cli import main

raise SystemExit(main())
