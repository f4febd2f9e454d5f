"""botocore glue: install/uninstall, the event handlers, per-call state.

The only part of rds_guard that knows botocore's events: `install` binds clients to the
guards in force (`installs`), each client's hooks (`binding`) hand botocore's keyword
arguments to the guard in force (`guard`), which turns them into a call to
`rds_guard.core.decide.decide` or into an audit record. See docs/integrations.md.
"""

from ..core.policy import AUDIT_PATH_ENV
from .guard import Guard, LookupFailed
from .installs import EventEmitter, install, install_on_emitter, open_audit_log

__all__ = [
    "AUDIT_PATH_ENV",
    "EventEmitter",
    "Guard",
    "LookupFailed",
    "install",
    "install_on_emitter",
    "open_audit_log",
]
