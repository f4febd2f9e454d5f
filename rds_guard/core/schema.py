"""TOML text -> `Policy`: the schema, and every load-time check as a `PolicyError`.

Each problem names the file, the line and the dotted key (see `positions`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from . import operations, rules
from .consistency import contradiction, naming_operation_advice
from .logs import LOGGER as logger
from .policy import (
    CONTROL,
    DEFAULT_AUDIT_PATH,
    DEFAULT_LOCK_TIMEOUT,
    KMS_KEY,
    KMS_KEY_FORM,
    LEDGER_MODES,
    MODES,
    REGION_NAME,
    TABLE_NAME,
    AuditPolicy,
    DeletionPolicy,
    ExportPolicy,
    LedgerPolicy,
    NamingRule,
    Policy,
    PolicyError,
    SharingPolicy,
    TagPolicy,
    dotted_key,
    is_bucket_name,
    templates_of,
)
from .positions import hint, kind, parse_toml, shown
from .reader import ValueReader, table_holding
from .rules import ValueGlob, Wildcard
from .samples import (
    identifier_never_valid,
    on_date,
    rendered_for,
    tag_value_never_valid,
    this_years,
)
from .templates import ENV_NAME, Template


def read_policy(text: str, source: str, *, base: Path, digest: str) -> Policy:
    """The `Policy` that TOML ``text`` (from ``source``) describes; every problem a `PolicyError`.

    Relative audit paths are taken from ``base``; ``digest`` is the SHA-256 the records carry.
    """
    document, lines = parse_toml(text, source)
    reader = _Reader(source, lines)
    return reader.policy(document, base=base, digest=digest)


# The schema: for each table, its keys and the reader of each value.
_TOP_KEYS = (
    "version",
    "mode",
    "services",
    "naming",
    "tags",
    "sharing",
    "export",
    "deletion",
    "audit",
)
_NAMING_KEYS = ("pattern", "generate", "operations")
_OPERATION_NAMING_KEYS = ("pattern", "generate")
_TAG_KEYS = ("required", "inherit", "defaults", "forced", "allowed", "patterns")
_SHARING_KEYS = ("public", "accounts")
_EXPORT_KEYS = ("enabled", "s3_buckets")
_DELETION_KEYS = ("final_snapshot", "automated_backups", "minimum_age_days", "hold_tags")
_AUDIT_KEYS = ("path", "enabled", "fsync", "hmac_key_env", "lock_timeout", "ledger")
_LEDGER_KEYS = ("table", "region", "mode", "checkpoints", "kms_key")
_BUCKET_RULES = (
    "3 to 63 lowercase letters, digits, '.' and '-', a letter or digit at each end, no '..'"
)
_BUCKET_GLOB = re.compile(r"[a-z0-9.*-]{1,63}")  # export.s3_buckets: '*' stands for any run
_LONGEST_LOCK_TIMEOUT = 3600.0


class _Reader(ValueReader):
    """The schema: one method per table of the policy. ``times``: the moments templates are
    rendered at (`this_years`), read from the clock once per load."""

    times: tuple[datetime, ...] = ()

    def policy(self, document: dict[str, Any], *, base: Path, digest: str) -> Policy:
        self.times = this_years()
        top = self.table(document, "", _TOP_KEYS)
        if "version" not in top:
            misplaced = table_holding(top, "version", int)
            if misplaced is not None:  # written after a table's header, so it is that table's
                named, header, written = misplaced
                raise PolicyError(
                    f"unknown key: version belongs at the top of the file, before {header}",
                    path=self.source,
                    line=self.lines.find(f"{written}.version"),
                    key=f"{named}.version",
                )
            raise PolicyError(
                "missing key 'version' (write: version = 1)", path=self.source, key="version"
            )
        version = top["version"]
        if type(version) is not int:
            raise self.fail(
                "version", f"must be an integer, not {kind(version)} (write: version = 1)"
            )
        if version != 1:
            raise self.fail(
                "version", f"unsupported version {shown(version)}: this rds_guard reads version 1"
            )
        mode = self.choice(top, "mode", "", MODES)
        tags = self.tag_policy(top.get("tags", {}))
        policy = Policy(
            mode=mode,
            services=self.services(top.get("services", list(operations.SERVICES))),
            naming=self.naming_rule(top.get("naming", {}), "naming", _NAMING_KEYS),
            naming_operations=self.naming_operations(top.get("naming", {})),
            tags=tags,
            sharing=self.sharing(top.get("sharing", {})),
            export=self.export(top.get("export", {})),
            deletion=self.deletion(top.get("deletion", {})),
            audit=self.audit(top.get("audit", {}), base),
            source=self.source,
        )
        object.__setattr__(policy, "sha256", digest)  # the loader's alone (`Policy.sha256`)
        self.check_audit_key_unread(policy)
        self.check_generated_names(policy)
        found = contradiction(policy, self.times)
        if found is not None:
            raise self.fail(*found)
        return policy

    def services(self, value: object) -> frozenset[str]:
        names = self.strings(value, "services")
        for i, name in enumerate(names):
            if name not in operations.SERVICES:
                raise self.fail(
                    f"services[{i}]",
                    f"unknown service {shown(name)}" + hint(name, operations.SERVICES),
                )
            if name in names[:i]:
                first = names.index(name)
                raise self.fail(
                    f"services[{i}]", f"lists {shown(name)} again (first at services[{first}])"
                )
        left_out = [name for name in operations.SERVICES if name not in names]
        if left_out:
            where = f"{self.source}:{self.lines.find('services')}"
            logger.warning(
                "%s: services leaves out %s, which rds_guard judges all the same: the three"
                " APIs share one endpoint, so an rds client can snapshot any of them",
                where,
                ", ".join(left_out),
            )
        return frozenset(names)

    def naming_rule(self, value: object, key: str, known: tuple[str, ...]) -> NamingRule:
        table = self.table(value, key, known)
        pattern = table.get("pattern")
        generate = table.get("generate")
        return NamingRule(
            pattern=None
            if pattern is None
            else self.name_pattern(pattern, dotted_key(key, "pattern")),
            generate=None if generate is None else self.identifier_template(generate, key),
            generate_key=dotted_key(key, "generate"),
        )

    def identifier_template(self, value: object, table: str) -> Template:
        """A ``generate`` template whose fixed text AWS allows in identifiers."""
        where = dotted_key(table, "generate")
        template = self.template(value, where)
        for now, fixed in self.fixed_texts(template, where):
            bad = sorted({c for c in fixed if not (c.isascii() and (c.isalnum() or c == "-"))})
            if bad:
                raise self.fail(
                    where,
                    "an identifier may hold only ASCII letters, digits and hyphens, not"
                    f" {', '.join(repr(c) for c in bad)}{on_date(now)}",
                )
        return template

    def fixed_texts(self, template: Template, where: str) -> list[tuple[datetime, str]]:
        """The text ``template`` renders at every call (`Template.fixed_text`), at each
        sample time: a ``{utcnow}`` format may render other characters on other days."""
        try:
            return [(now, template.fixed_text(now)) for now in self.times]
        except ValueError as exc:
            raise self.fail(where, f"a {{utcnow}} format cannot be used: {exc}") from None

    def check_audit_key_unread(self, policy: Policy) -> None:
        """No template reads the variable holding the audit log's HMAC key: written into tags
        and the log, the key would let whoever reads them forge the chain."""
        variable = policy.audit.hmac_key_env
        for key, template in templates_of(policy):
            if variable is not None and variable in template.env_names:
                raise self.fail(
                    key,
                    f"{{env:{variable}}} names the variable holding the audit log's HMAC key"
                    " (audit.hmac_key_env): its value would be written into tags and the"
                    " audit log",
                )

    def check_generated_names(self, policy: Policy) -> None:
        """``generate`` can name a snapshot AWS accepts for each operation it names snapshots
        for (overrides merged); held against the pattern in `consistency`."""
        for row in operations.OPERATIONS.values():
            rule = policy.naming_for(row.name)
            if not row.generates_name or not rule.generate:
                continue
            for service in sorted(row.services):
                name, reason = identifier_never_valid(rule.generate, row, service)
                if reason:
                    raise self.template_fail(
                        rule.generate_key,
                        rule.generate.text,
                        f"no {row.name} can get a name AWS accepts from it: it renders"
                        f" {shown(name)}{rendered_for(rule.generate)}, which {reason}",
                    )

    def naming_operations(self, naming: object) -> dict[str, NamingRule]:
        if not isinstance(naming, dict):
            return {}
        table = self.table(
            naming.get("operations", {}),
            "naming.operations",
            tuple(operations.NAMING_OPERATIONS),
            advice=naming_operation_advice,
        )
        rules_by_name = {
            name: self.naming_rule(rule, f"naming.operations.{name}", _OPERATION_NAMING_KEYS)
            for name, rule in table.items()
        }
        for name, rule in rules_by_name.items():
            if (
                rule.generate is not None
                and operations.OPERATIONS[name].kind is operations.Kind.FINAL
            ):
                raise self.fail(
                    rule.generate_key,
                    f"a final snapshot's name is never generated: a {name} call that makes"
                    " one names it (a delete may skip it: [deletion] final_snapshot); a"
                    " pattern here judges the name it gives",
                )
        return rules_by_name

    def tag_policy(self, value: object) -> TagPolicy:
        table = self.table(value, "tags", _TAG_KEYS)
        required = self.strings(table.get("required", []), "tags.required")
        for i, key in enumerate(required):
            self.check_tag_key(key, f"tags.required[{i}]")
        inherit = table.get("inherit", True)
        if not (isinstance(inherit, bool) or inherit == "always"):
            raise self.fail(
                "tags.inherit", f'must be true, false or "always", not {shown(inherit)}'
            )
        self.check_tag_count(required, table)
        defaults = self.tag_templates(table.get("defaults", {}), "tags.defaults")
        forced = self.tag_templates(table.get("forced", {}), "tags.forced")
        allowed = self.allowed(table.get("allowed", {}))
        patterns = {}
        for key, text in self.string_table(table.get("patterns", {}), "tags.patterns").items():
            self.check_tag_key(key, dotted_key("tags.patterns", key))
            patterns[key] = self.tag_pattern(text, dotted_key("tags.patterns", key))
        policy = TagPolicy(required, inherit, defaults, forced, allowed, patterns)
        return policy

    def check_tag_count(self, required: Sequence[str], table: dict[str, object]) -> None:
        """Every snapshot carries each required, forced and default key (a default the caller
        leaves out is added): more than AWS allows on one snapshot blocks every call. Checked
        before any template is read, so a table of thousands is refused at once."""
        keys = {"tags.required": set(required)}
        for name in ("defaults", "forced"):
            value = table.get(name, {})
            keys[f"tags.{name}"] = set(value) if isinstance(value, dict) else set()
        needed = len(set().union(*keys.values()))
        if needed > rules.TAGS_PER_RESOURCE_MAX:
            raise self.fail(
                max(keys, key=lambda name: len(keys[name])),
                f"tags.required, tags.forced and tags.defaults name {needed} keys between them,"
                " and every snapshot gets each of them: AWS allows at most"
                f" {rules.TAGS_PER_RESOURCE_MAX} tags per snapshot, so no call could comply",
            )

    def tag_templates(self, value: object, key: str) -> dict[str, Template]:
        result = {}
        for name, text in self.string_table(value, key).items():
            where = dotted_key(key, name)
            self.check_tag_key(name, where)
            template = self.template(text, where)
            if template.is_literal:
                problems = rules.tag_value_problems(template.literal_text)
            else:  # its literal text and {utcnow:FMT} dates: the same at every call
                problems = []
                said: set[str] = set()  # a character both dates render is said once
                for now, fixed in self.fixed_texts(template, where):
                    bad = {c for c in set(fixed) if not rules.tag_char_allowed(c)}  # each once
                    for c in sorted(bad - said):
                        problems.append(f"value may not hold {c!r} (AWS tag rules){on_date(now)}")
                        said.add(c)
                if not problems:
                    value, reason = tag_value_never_valid(template)
                    if reason:
                        raise self.template_fail(
                            where,
                            text,
                            f"no call can get a tag value AWS accepts from it: it renders"
                            f" {shown(value)}{rendered_for(template)}: {reason}",
                        )
            if problems:
                raise self.fail(where, "; ".join(problems))
            result[name] = template
        return result

    def allowed(self, value: object) -> dict[str, tuple[ValueGlob, ...]]:
        if not isinstance(value, dict):
            raise self.fail("tags.allowed", f"must be a table, not {kind(value)}")
        result = {}
        for key, items in value.items():
            # the key's dotted name is made only for a message: a MiB of keys loads in time
            if rules.tag_key_problems(key):
                self.check_tag_key(key, dotted_key("tags.allowed", key))
            if not (type(items) is list and items and all(type(t) is str for t in items)):
                self._refuse_allowed(key, items)
            if any(rules.value_glob_problems(text) for text in items):
                self._refuse_allowed(key, items)
            result[key] = tuple(map(ValueGlob, items))
        return result

    def _refuse_allowed(self, key: str, items: object) -> NoReturn:
        """The `PolicyError` for the values ``tags.allowed`` gives ``key``."""
        where = dotted_key("tags.allowed", key)
        for i, text in enumerate(self.strings(items, where)):
            problems = rules.value_glob_problems(text)
            if problems:
                raise self.fail(f"{where}[{i}]", "; ".join(problems))
        raise self.fail(where, "lists no value: every call that sets this tag would be blocked")

    def check_tag_key(self, key: str, where: str) -> None:
        problems = rules.tag_key_problems(key)
        if problems:
            raise self.fail(where, f"tag key {shown(key)}: " + "; ".join(problems))

    def sharing(self, value: object) -> SharingPolicy:
        table = self.table(value, "sharing", _SHARING_KEYS)
        public = self.boolean(table.get("public", False), "sharing.public")
        if "accounts" not in table:
            return SharingPolicy(public, None)
        accounts = self.strings(table["accounts"], "sharing.accounts")
        for i, account in enumerate(accounts):
            if not rules.is_account_id(account):
                raise self.fail(
                    f"sharing.accounts[{i}]", f"{shown(account)} is not a 12-digit account id"
                )
        return SharingPolicy(public, frozenset(accounts))

    def audit(self, value: object, base: Path) -> AuditPolicy:
        table = self.table(value, "audit", _AUDIT_KEYS)
        text = self.string(table.get("path", DEFAULT_AUDIT_PATH), "audit.path")
        if not text.strip():
            raise self.fail("audit.path", "must name a file (omit the key for the default)")
        if "\0" in text:
            raise self.fail("audit.path", "a path may not hold a NUL character (\\u0000)")
        path = Path(text)
        key_env = table.get("hmac_key_env")
        if key_env is not None and not ENV_NAME.fullmatch(
            self.string(key_env, "audit.hmac_key_env")
        ):
            raise self.fail(
                "audit.hmac_key_env",
                "must name an environment variable (letters, digits and '_', not starting"
                f" with a digit), not {shown(key_env)}",
            )
        return AuditPolicy(
            path=path if path.is_absolute() else base / path,
            enabled=self.boolean(table.get("enabled", True), "audit.enabled"),
            fsync=self.boolean(table.get("fsync", True), "audit.fsync"),
            hmac_key_env=key_env,
            lock_timeout=self.number(
                table.get("lock_timeout", DEFAULT_LOCK_TIMEOUT),
                "audit.lock_timeout",
                low=0.001,
                high=_LONGEST_LOCK_TIMEOUT,
            ),
            ledger=None if "ledger" not in table else self.ledger(table["ledger"]),
        )

    def ledger(self, value: object) -> LedgerPolicy:
        table = self.table(value, "audit.ledger", _LEDGER_KEYS)
        if "table" not in table:
            raise self.fail("audit.ledger", "missing key 'table' (the DynamoDB table's name)")
        name = self.string(table["table"], "audit.ledger.table")
        if not TABLE_NAME.fullmatch(name):
            raise self.fail(
                "audit.ledger.table",
                f"{shown(name)} is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)",
            )
        checkpoints = table.get("checkpoints")
        if checkpoints is not None:
            checkpoints = self.s3_location(checkpoints, "audit.ledger.checkpoints")
        kms_key, where = table.get("kms_key"), "audit.ledger.kms_key"
        if kms_key is not None and not KMS_KEY.fullmatch(self.string(kms_key, where)):
            raise self.fail(where, f"{shown(kms_key)} names no KMS key ({KMS_KEY_FORM})")
        if (checkpoints is None) != (kms_key is None):
            missing = "kms_key" if kms_key is None else "checkpoints"
            raise self.fail(
                f"audit.ledger.{missing}",
                "checkpoints and kms_key go together: checkpoints are signed with the key",
            )
        region, where = table.get("region"), "audit.ledger.region"
        if region is not None and not REGION_NAME.fullmatch(self.string(region, where)):
            raise self.fail(where, f"{shown(region)} is not a region's name (us-east-1...)")
        return LedgerPolicy(
            table=name,
            region=region,
            mode=self.choice(table, "mode", "audit.ledger", LEDGER_MODES),
            checkpoints=checkpoints,
            kms_key=kms_key,
        )

    def s3_location(self, value: object, key: str) -> str:
        text = self.string(value, key)
        bucket = text.removeprefix("s3://").split("/", 1)[0]
        if not text.startswith("s3://") or CONTROL.search(text):
            raise self.fail(key, f"{shown(text)} is not an S3 location (s3://BUCKET/PREFIX)")
        if not is_bucket_name(bucket):
            why = f"is not an S3 bucket name ({_BUCKET_RULES})"
            raise self.fail(key, f"in {shown(text)}, {shown(bucket)} {why}")
        return text

    def export(self, value: object) -> ExportPolicy:
        table = self.table(value, "export", _EXPORT_KEYS)
        enabled = self.boolean(table.get("enabled", True), "export.enabled")
        if "s3_buckets" not in table:
            return ExportPolicy(enabled, None)
        buckets = self.strings(table["s3_buckets"], "export.s3_buckets")
        for i, bucket in enumerate(buckets):
            if not _BUCKET_GLOB.fullmatch(bucket) or (
                "*" not in bucket and not is_bucket_name(bucket)
            ):
                raise self.fail(
                    f"export.s3_buckets[{i}]",
                    f"{shown(bucket)} is not an S3 bucket name ({_BUCKET_RULES}; '*' stands"
                    " for any run)",
                )
        return ExportPolicy(enabled, tuple(Wildcard(bucket) for bucket in buckets))

    def deletion(self, value: object) -> DeletionPolicy:
        table = self.table(value, "deletion", _DELETION_KEYS)
        age = table.get("minimum_age_days")
        hold_tags = self.string_table(table.get("hold_tags", {}), "deletion.hold_tags")
        for key, text in hold_tags.items():
            where = dotted_key("deletion.hold_tags", key)
            self.check_tag_key(key, where)
            problems = rules.tag_value_problems(text)
            if problems:
                raise self.fail(where, "; ".join(problems))
        return DeletionPolicy(
            final_snapshot=self.choice(
                table, "final_snapshot", "deletion", ("optional", "required")
            ),
            automated_backups=self.choice(table, "automated_backups", "deletion", ("any", "keep")),
            minimum_age_days=None
            if age is None
            else self.number(age, "deletion.minimum_age_days", low=0, high=36500),
            hold_tags=hold_tags,
        )
