"""``rds-guard check [POLICY]``: load and validate a policy, then say what it enforces.

Its arguments, its run function and its output: one fact a line (mode, services, naming,
tags, sharing, audit, the variables its templates read). Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping

from rds_guard.core.policy import NamingRule, Policy
from rds_guard.core.templates import Template

from .common import POLICY_HELP, policy_for, print_lines

HELP = (
    "Validate a policy file and print what it enforces.\n"
    "\n"
    "Exit 0 with a summary (mode, services, naming, tags, sharing, audit) when the policy\n"
    "loads; exit 2 with one line, PATH:LINE: key: problem, when it does not. Run it in CI."
)
EXAMPLE = "rds-guard check rds_guard.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``[POLICY]``."""
    parser.add_argument("policy", nargs="?", metavar="POLICY", help=POLICY_HELP)


def run(args: argparse.Namespace) -> int:
    """Print the summary of the policy named, else of the one `install` would find."""
    policy = policy_for(args.policy, "name the file (rds-guard check POLICY)")
    print_lines(policy_summary(policy, os.environ))
    return 0


_MODES = {
    "enforce": "a call that breaks a rule is blocked and never sent",
    "warn": "violations are logged and audited, and the call is sent anyway",
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
        f"services: {', '.join(sorted(policy.services))}",
        *_naming(policy),
        *_tags(policy),
        *_sharing(policy),
        *_audit(policy, environ),
        *_environment(policy, environ),
    ]


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
    allowed = {key: " | ".join(g.text for g in globs) for key, globs in tags.allowed.items()}
    patterns = {key: pattern.pattern for key, pattern in tags.patterns.items()}
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
    return {key: template.text for key, template in templates.items()}


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
        else ", ".join(sorted(sharing.accounts)) or "none (no snapshot may be shared)"
    )
    return ["sharing:", f"  public: {public}", f"  accounts: {accounts}"]


def _audit(policy: Policy, environ: Mapping[str, str]) -> list[str]:
    settings = policy.audit
    if not settings.enabled:
        return ["audit: off (enabled = false: nothing is written)"]
    if settings.hmac_key_env is None:
        hmac = "off (SHA-256 chain)"
    else:
        state = "set" if environ.get(settings.hmac_key_env) else "NOT SET here: install would fail"
        hmac = f"HMAC-SHA256, key in ${settings.hmac_key_env} ({state})"
    return [
        "audit:",
        f"  path: {settings.path}",
        f"  fsync: {_toml_value(settings.fsync)}",
        f"  hmac: {hmac}",
    ]


def _environment(policy: Policy, environ: Mapping[str, str]) -> list[str]:
    names = dict.fromkeys(name for template in _templates(policy) for name in template.env_names)
    if not names:
        return []
    return [
        "environment:",
        *(
            f"  {name}: {'set' if name in environ else 'not set here (template.env at call time)'}"
            for name in names
        ),
    ]


def _templates(policy: Policy) -> Iterable[Template]:
    rules = [policy.naming, *policy.naming_operations.values()]
    yield from (rule.generate for rule in rules if rule.generate is not None)
    yield from policy.tags.defaults.values()
    yield from policy.tags.forced.values()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"'
