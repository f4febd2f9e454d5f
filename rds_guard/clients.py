"""The botocore clients rds_guard makes itself (the fleet ledger's, ``rds-guard
reconcile``'s), never the application's: waits bounded, so that an endpoint that accepts a
connection and never answers is an error in seconds, not minutes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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


class ClientSettingsError(ValueError):
    """A client rds_guard makes cannot be made as configured (its endpoint URL, region, retry
    settings: given, or botocore's from the environment and the profile)."""


def made_client(session: Any, service: str, **settings: Any) -> Any:
    """``session.create_client(service, **settings)``; `ClientSettingsError` for settings
    botocore refuses with a bare `ValueError` (``AWS_ENDPOINT_URL=junk``,
    ``AWS_MAX_ATTEMPTS=junk``) and for a region that is no region's name: botocore's own check
    lets one ending in a newline through (``$`` matches before it), and the newline reaches
    the Authorization header, which http.client then quotes, signature and all, in its error.
    Each request of the client made gets its whole answer within the client's connect and
    read timeouts together (`answers.bound_answers`)."""
    from .core.policy import REGION_NAME

    region = settings.get("region_name") or session.get_config_variable("region")
    if isinstance(region, str) and not REGION_NAME.fullmatch(region):
        raise ClientSettingsError(
            f"not a region's name: {region!r} (the region given, or AWS_DEFAULT_REGION)"
        )
    from rds_guard.audit.redact import without_signing_values

    try:
        client = session.create_client(service, **settings)
    except ValueError as exc:
        message = without_signing_values(str(exc))  # an endpoint's password, say
        raise ClientSettingsError(
            f"cannot make the {service} client: {message}{_quoted_from_env(str(exc))}"
        ) from None
    try:
        # botocore takes a URL whose port is no number (to urllib, a password's raw # or ?
        # ends the host), and its signer raises a bare ValueError at every request
        urlsplit(client.meta.endpoint_url).port  # noqa: B018
    except ValueError as exc:
        url = client.meta.endpoint_url
        hint = " (a password's # or ? is written %23 or %3F)" if "@" in url else ""
        raise ClientSettingsError(
            f"cannot make the {service} client: its endpoint URL"
            f" {without_signing_values(url)}: {without_signing_values(str(exc))}{hint}"
        ) from None
    from .answers import bound_answers

    bound_answers(client)  # a byte every few seconds passes the read timeout: not the bound
    return client


def _quoted_from_env(message: str) -> str:
    """`` (from $AWS_X)`` for each ``AWS_`` variable whose value botocore's message quotes:
    its ``invalid literal for int() with base 10: 'abc'`` names no setting."""
    named = [
        f"${name}"
        for name, value in sorted(os.environ.items())
        if name.startswith("AWS_") and value and repr(value) in message
    ]
    return f" (from {', '.join(named)})" if named else ""
