"""``rds-guard check [POLICY] [--json]``: load and validate a policy, then say what it
enforces.

Its arguments, its run function and its output: one fact a line (mode, services, naming,
tags, sharing, export, deletion, audit and its ledger, the variables its templates read), or
one JSON object; and the one check beyond the policy's text that install makes too: that the
audit log can be written where it would be. Offline: nothing is contacted. Documented in
docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rds_guard.audit.errors import KeyRequired, NotAuthentic
from rds_guard.audit.fileio import check_a_log
from rds_guard.audit.record import key_from_env
from rds_guard.audit.torn import check_log_end
from rds_guard.core import operations
from rds_guard.core.files import log_problem
from rds_guard.core.policy import (
    LedgerPolicy,
    NamingRule,
    Policy,
    audit_path_of,
    key_line,
    templates_of,
)
from rds_guard.core.templates import Template
from rds_guard.errors import AuditError

from .common import POLICY_HELP, UsageError, policy_for, print_json, print_lines

HELP = (
    "Validate a policy file and print what it enforces.\n"
    "\n"
    "Exit 0 with a summary (mode, services, naming, tags, sharing, export, deletion, audit)\n"
    "when the policy loads; exit 2 with one line, PATH:LINE: key: problem, when it does not,\n"
    "and when the audit log could not be written where it would be (install would fail).\n"
    "Offline: the fleet ledger's table and bucket are not contacted. Run it in CI."
)
EXAMPLE = "rds-guard check rds_guard.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``[POLICY] [--json]``."""
    parser.add_argument("policy", nargs="?", metavar="POLICY", help=POLICY_HELP)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Print the summary of the policy named, else of the one `install` would find; exit 2
    when install would fail because the audit log cannot be written."""
    policy = policy_for(args.policy, "name the file (rds-guard check POLICY)")
    problem = audit_problem(policy, os.environ)
    if problem is not None:
        raise UsageError(problem)
    if args.json:
        print_json(policy_document(policy, os.environ))
    else:
        print_lines(policy_summary(policy, os.environ))
    return 0


# --- the audit log's place ------------------------------------------------------------------


def audit_path(policy: Policy, environ: Mapping[str, str]) -> tuple[Path, str | None]:
    """Where install would write the audit log, and the variable that says so (None: the
    policy says so)."""
    path, source = audit_path_of(policy, environ=environ)
    return Path(path), source


def audit_problem(policy: Policy, environ: Mapping[str, str]) -> str | None:
    """One line naming the audit log's place and why install could not write there (None:
    it could, or the policy writes no log)."""
    if not policy.audit.enabled:
        return None
    path, variable = audit_path(policy, environ)
    where = f"${variable}" if variable else _where(policy, "audit.path")
    why = log_problem(path, policy.source)
    if why is not None:
        return f"{where}: the audit log {path} cannot be written: {why} (install would fail)"
    variable = policy.audit.hmac_key_env
    unset = variable is not None and not environ.get(variable)  # the summary says so
    try:
        check_a_log(path)
        check_log_end(path, None if variable is None or unset else key_from_env(variable, environ))
    except (KeyRequired, NotAuthentic) as refused:
        if not unset:  # else the last record cannot be authenticated, nor what follows read
            return f"{where}: {refused} (the first guarded call would fail)"
    except AuditError as refused:  # the writer refuses it when the first record is written
        return f"{where}: {refused} (the first guarded call would fail)"
    return None


def _where(policy: Policy, key: str) -> str:
    """``PATH:LINE: key`` of ``key`` in ``policy``'s file (``PATH: key`` where its line cannot
    be known: a policy made from text, or a file changed since)."""
    line = key_line(policy, key)
    return f"{policy.source}{'' if line is None else f':{line}'}: {key}"


# --- the summary ----------------------------------------------------------------------------


_MODES = {
    "enforce": "a call that breaks a rule is blocked and never sent",
    "warn": "violations are logged and audited, and the call is sent anyway",
}
_FINAL_SNAPSHOT = {
    "required": "a delete may not skip its final snapshot: SkipFinalSnapshot=True is"
    " deletion.final_snapshot",
    "optional": "a delete may skip its final snapshot",
}
_AUTOMATED_BACKUPS = {
    "keep": "a delete may not take the automated backups, nor BackupRetentionPeriod=0 turn"
    " them off: deletion.automated_backups",
    "any": "a delete may take the automated backups with it",
}
_LEDGER_MODES = {
    "ship": "the local file is the spool, shipped to the ledger",
    "required": "a call is sent only once the ledger holds its requested record",
}
_INHERIT = {
    True: "the source's tags, when it passes them on and the call sends no Tags",
    "always": "the source's tags, when it passes them on, even when the call sends Tags",
    False: "never: the source is not read, and added tags switch AWS's copy off",
}


def policy_summary(policy: Policy, environ: Mapping[str, str]) -> list[str]:
    """What ``policy`` enforces, one fact a line; ``environ`` tells which variables are set."""
    return [
        f"ok: {policy.source} is a valid policy (version {policy.version},"
        f" sha256 {policy.sha256[:12]})",
        f"mode: {policy.mode} ({_MODES[policy.mode]})",
        _services(policy),
        *_naming(policy),
        *_tags(policy),
        *_sharing(policy),
        *_export(policy),
        *_deletion(policy),
        *_audit(policy, environ),
        *_environment(policy, environ),
    ]


def _left_out(policy: Policy) -> list[str]:
    return [name for name in operations.SERVICES if name not in policy.services]


def _services(policy: Policy) -> str:
    line = f"services: {', '.join(sorted(policy.services)) or 'none'}"
    left_out = _left_out(policy)
    if left_out:
        line += (
            f" ({', '.join(left_out)} left out, but judged all the same: the three APIs share"
            " one endpoint)"
        )
    return line


def _naming(policy: Policy) -> list[str]:
    lines = ["naming:"]
    if policy.naming.pattern is None:
        lines.append("  pattern: none (any identifier AWS accepts)")
    else:
        lines.append(
            f"  pattern: {policy.naming.pattern.text}  (full match, identifier lowercased)"
        )
    if policy.naming.generate is None:
        lines.append("  generate: none (a create or copy must name its snapshot)")
    else:
        lines.append(f"  generate: {policy.naming.generate.text}  (when a call names none)")
    for operation, rule in sorted(policy.naming_operations.items()):
        lines.append(f"  {operation}: {_override(rule)}")
    return lines


def _override(rule: NamingRule) -> str:
    parts = []
    if rule.pattern is not None:
        parts.append(f"pattern {rule.pattern.text}")
    if rule.generate is not None:
        parts.append(f"generate {rule.generate.text}")
    return "; ".join(parts) or "no override"


def _tags(policy: Policy) -> list[str]:
    tags = policy.tags
    allowed = {key: " | ".join(_text(g.text) for g in globs) for key, globs in tags.allowed.items()}
    patterns = {key: _text(pattern.pattern) for key, pattern in tags.patterns.items()}
    return [
        "tags:",
        f"  required: {', '.join(tags.required) or 'none'}",
        f"  inherit: {_toml_value(tags.inherit)} ({_INHERIT[tags.inherit]})",
        *_table("defaults (set when absent)", _texts(tags.defaults), " = "),
        *_table("forced (always set)", _texts(tags.forced), " = "),
        *_table("allowed", allowed, ": "),
        *_table("patterns", patterns, ": "),
    ]


def _texts(templates: Mapping[str, Template]) -> dict[str, str]:
    return {key: _text(template.text) for key, template in templates.items()}


def _text(value: str) -> str:
    """A value as the summary shows it: an empty one as ``""``, not as nothing."""
    return value or '""'


def _table(title: str, entries: Mapping[str, str], separator: str) -> list[str]:
    if not entries:
        return [f"  {title}: none"]
    return [f"  {title}:", *(f"    {key}{separator}{value}" for key, value in entries.items())]


def _sharing(policy: Policy) -> list[str]:
    sharing = policy.sharing
    public = "allowed" if sharing.public else 'blocked (sharing with "all" is sharing.public)'
    accounts = (
        "any account"
        if sharing.accounts is None
        else ", ".join(sorted(sharing.accounts)) or "none (no snapshot may be shared with one)"
    )
    return ["sharing:", f"  public: {public}", f"  accounts: {accounts}"]


def _export(policy: Policy) -> list[str]:
    export = policy.export
    if not export.enabled:
        return ["export: off (enabled = false: every export is export.disabled)"]
    if export.s3_buckets is None:
        buckets = "any bucket"
    elif export.s3_buckets:
        buckets = " | ".join(_text(b.text) for b in export.s3_buckets) + "  (else export.bucket)"
    else:
        buckets = "none (every export is export.bucket)"
    return ["export:", "  enabled: true", f"  s3_buckets: {buckets}"]


def _deletion(policy: Policy) -> list[str]:
    deletion = policy.deletion
    days = deletion.minimum_age_days
    age = (
        "none (a snapshot of any age may be deleted)"
        if days is None
        else f"{days:g} (a younger snapshot may not be deleted: deletion.too_young)"
    )
    return [
        "deletion:",
        f"  final_snapshot: {_toml_value(deletion.final_snapshot)}"
        f" ({_FINAL_SNAPSHOT[deletion.final_snapshot]})",
        f"  automated_backups: {_toml_value(deletion.automated_backups)}"
        f" ({_AUTOMATED_BACKUPS[deletion.automated_backups]})",
        f"  minimum_age_days: {age}",
        *_table(
            "hold_tags (no delete, no removing or changing the tag)",
            {key: _text(value) for key, value in deletion.hold_tags.items()},
            " = ",
        ),
    ]


def _audit(policy: Policy, environ: Mapping[str, str]) -> list[str]:
    settings = policy.audit
    if not settings.enabled:
        return ["audit: off (enabled = false: nothing is written)"]
    path, variable = audit_path(policy, environ)
    where = f"{path}  (from ${variable}; the policy says {settings.path})" if variable else path
    return [
        "audit:",
        f"  path: {where}",
        f"  fsync: {_toml_value(settings.fsync)}",
        f"  hmac: {_hmac(policy, environ)}",
        f"  lock_timeout: {settings.lock_timeout:g} seconds (then AuditError: nothing is sent)",
        *_ledger(settings.ledger),
    ]


def _hmac(policy: Policy, environ: Mapping[str, str]) -> str:
    variable = policy.audit.hmac_key_env
    if variable is None:
        return "off (SHA-256 chain)"
    state = "set" if environ.get(variable) else "NOT SET here: install would fail"
    return f"HMAC-SHA256, key in ${variable} ({state})"


def _ledger(ledger: LedgerPolicy | None) -> list[str]:
    if ledger is None:
        return ["  ledger: none (the local file is the whole log)"]
    return [
        "  ledger (not contacted by check):",
        f"    table: {ledger.table}",
        f"    region: {ledger.region or 'the configured region'}",
        f"    mode: {_toml_value(ledger.mode)} ({_LEDGER_MODES[ledger.mode]})",
        f"    checkpoints: {ledger.checkpoints or 'none'}",
        f"    kms_key: {ledger.kms_key or 'none'}",
    ]


def _environment(policy: Policy, environ: Mapping[str, str]) -> list[str]:
    names = _env_names(policy)
    if not names:
        return []
    return [
        "environment:",
        *(
            f"  {name}: {'set' if name in environ else 'not set here (template.env at call time)'}"
            for name in names
        ),
    ]


def _env_names(policy: Policy) -> list[str]:
    """The variables the policy's templates read, each once, in the order they appear."""
    return list(dict.fromkeys(name for _, t in templates_of(policy) for name in t.env_names))


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"'


# --- the JSON summary -----------------------------------------------------------------------


def policy_document(policy: Policy, environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``--json`` summary: what `policy_summary` says, as one object of plain values."""
    tags, audit = policy.tags, policy.audit
    path, variable = audit_path(policy, environ)
    return {
        "policy": policy.source,
        "version": policy.version,
        "sha256": policy.sha256,
        "mode": policy.mode,
        "services": sorted(policy.services),
        "services_left_out": _left_out(policy),
        "naming": {
            **_rule_document(policy.naming),
            "operations": {
                name: _rule_document(rule)
                for name, rule in sorted(policy.naming_operations.items())
            },
        },
        "tags": {
            "required": list(tags.required),
            "inherit": tags.inherit,
            "defaults": _texts(tags.defaults),
            "forced": _texts(tags.forced),
            "allowed": {key: [g.text for g in globs] for key, globs in tags.allowed.items()},
            "patterns": {key: pattern.pattern for key, pattern in tags.patterns.items()},
        },
        "sharing": {
            "public": policy.sharing.public,
            "accounts": None
            if policy.sharing.accounts is None
            else sorted(policy.sharing.accounts),
        },
        "export": {
            "enabled": policy.export.enabled,
            "s3_buckets": None
            if policy.export.s3_buckets is None
            else [b.text for b in policy.export.s3_buckets],
        },
        "deletion": {
            "final_snapshot": policy.deletion.final_snapshot,
            "automated_backups": policy.deletion.automated_backups,
            "minimum_age_days": _number(policy.deletion.minimum_age_days),
            "hold_tags": dict(policy.deletion.hold_tags),
        },
        "audit": {
            "enabled": audit.enabled,
            "path": str(path),
            "path_from": variable,
            "fsync": audit.fsync,
            "hmac_key_env": audit.hmac_key_env,
            "hmac_key_set": bool(audit.hmac_key_env and environ.get(audit.hmac_key_env)),
            "lock_timeout": _number(audit.lock_timeout),
            "ledger": None
            if audit.ledger is None
            else {
                "table": audit.ledger.table,
                "region": audit.ledger.region,
                "mode": audit.ledger.mode,
                "checkpoints": audit.ledger.checkpoints,
                "kms_key": audit.ledger.kms_key,
            },
        },
        "environment": {name: name in environ for name in _env_names(policy)},
    }


def _rule_document(rule: NamingRule) -> dict[str, str | None]:
    return {
        "pattern": None if rule.pattern is None else rule.pattern.text,
        "generate": None if rule.generate is None else rule.generate.text,
    }


def _number(value: float | None) -> float | int | None:
    """A whole number as an int (``7``, not ``7.0``)."""
    return int(value) if value is not None and value.is_integer() else value
