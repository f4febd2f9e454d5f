"""The botocore clients rds_guard makes itself (the fleet ledger's, ``rds-guard
reconcile``'s), never the application's: waits bounded, so that an endpoint that accepts a
connection and never answers is an error in seconds, not minutes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

DEFAULT_RETRIES: dict[str, Any] = {"mode": "standard", "total_max_attempts": 3}
"""Retries when neither the environment (``AWS_RETRY_MODE``, ``AWS_MAX_ATTEMPTS``) nor the
profile sets any: what recent botocores do by default, made explicit for the older ones this
package supports, whose legacy mode gives DynamoDB 10 attempts and the other services 5.
Throttling is retried with backoff."""


def retries_configured(session: Any) -> bool:
    """True when the environment or the botocore session's profile sets a retry mode or
    count (which then apply as they are)."""
    if os.environ.get("AWS_RETRY_MODE") or os.environ.get("AWS_MAX_ATTEMPTS"):
        return True
    try:
        scoped = session.get_scoped_config()
    except Exception:  # a profile that does not exist: client creation says so
        return False
    return bool(scoped.get("retry_mode") or scoped.get("max_attempts"))


def bounded_config(session: Any, **settings: Any) -> Config:
    """A botocore ``Config`` of ``settings`` (timeouts, say), with `DEFAULT_RETRIES` unless
    the environment or ``session``'s profile configures retries."""
    from botocore.config import Config

    if retries_configured(session):
        return Config(**settings)
    return Config(**settings, retries=dict(DEFAULT_RETRIES))
