"""botocore glue: install/uninstall, the event handlers, per-call state.

The only part of rds_guard that knows botocore's events: `install` binds clients to the
guards in force (`installs`), each client's hooks (`binding`, placed by `hooks`) hand
botocore's keyword arguments to the guard in force (`guard`), which turns them into a call to
`rds_guard.core.decide.decide` or into an audit record. See docs/integrations.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy_names

if TYPE_CHECKING:
    from ..core.policy import AUDIT_PATH_ENV
    from .guard import Guard
    from .installs import EventEmitter, install, install_on_emitter, open_audit_log
    from .reads import LookupFailed

__all__ = [
    "AUDIT_PATH_ENV",
    "EventEmitter",
    "Guard",
    "LookupFailed",
    "install",
    "install_on_emitter",
    "open_audit_log",
]

# Imported when first asked for, as the package's own names are: the AWS CLI plugin imports
# `hooks` alone until a guarded operation needs the rest.
_HOMES = {
    "AUDIT_PATH_ENV": "..core.policy",
    "Guard": ".guard",
    "LookupFailed": ".reads",
    "EventEmitter": ".installs",
    "install": ".installs",
    "install_on_emitter": ".installs",
    "open_audit_log": ".installs",
}

__getattr__, __dir__ = _lazy_names(globals(), _HOMES)
