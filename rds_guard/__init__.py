"""rds_guard: naming, tagging and audit guardrails for RDS, DocumentDB and Neptune snapshots.

Call `install` once on a boto3 session (or one client); every snapshot the application then
creates, copies, re-tags, shares or deletes is checked against a TOML policy, completed with
the policy's tags, and written to a hash-chained audit log. See the README for the tour.
"""

from .core.decide import UNREADABLE, Decision, evaluate
from .core.policy import Policy, load_policy
from .errors import AuditError, PolicyError, PolicyViolation, Violation
from .guard import Guard, install

__all__ = [
    "UNREADABLE",
    "AuditError",
    "Decision",
    "Guard",
    "Policy",
    "PolicyError",
    "PolicyViolation",
    "Violation",
    "evaluate",
    "install",
    "load_policy",
]
__version__ = "0.1.0"
