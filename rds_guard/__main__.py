"""``python -m rds_guard`` and the ``rds-guard`` command: `main`."""

from __future__ import annotations


def main() -> int:
    """Run the ``rds-guard`` command (`rds_guard.cli.main`), loaded here: an interrupt while
    it loads (boto3's import, a tenth of a second) exits 130 without a traceback, as one
    while it runs does."""
    try:
        from rds_guard.cli import main as run
    except KeyboardInterrupt:
        return 130
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
