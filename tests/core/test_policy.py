"""policy.py: the TOML policy file, read into frozen dataclasses.

Every problem is a `PolicyError` reading ``PATH:LINE: dotted.key: what is wrong``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clock import UtcDays
from core_fixtures import body_error, make_policy

from rds_guard.core import operations
from rds_guard.core.decide import evaluate
from rds_guard.core.policy import (
    DEFAULT_AUDIT_PATH,
    LedgerPolicy,
    Policy,
    load_policy,
    resolve_policy,
)
from rds_guard.core.samples import this_years
from rds_guard.errors import PolicyError

"""The year templates are rendered in when a policy loads (its 31 May and 1 January)."""

REFERENCE_EXAMPLE = r"""
version = 1
mode = "enforce"
services = ["rds", "docdb", "neptune"]

[naming]
pattern = "^{source}-(daily|manual)-[0-9]{8}$"
generate = "{source}-manual-{utcnow:%Y%m%d}"

[naming.operations.CopyDBClusterSnapshot]
pattern = "^dr-{source}$"
generate = "dr-{source}"
[naming.operations.CopyDBSnapshot]
pattern = "^dr-.+$"

[tags]
required = ["team", "env"]
inherit = true

[tags.defaults]
managed-by = "rds-guard"
created = "{utcnow:%Y-%m-%d}"
owner = "{env:APP_OWNER}"

[tags.forced]
compliance = "pci"

[tags.allowed]
env = ["prod", "staging", "dev"]
cost-center = ["CC-*"]

[tags.patterns]
owner = "^[a-z.]+@example\\.com$"

[sharing]
public = false
accounts = ["111122223333"]

[audit]
path = "rds-guard-audit.jsonl"
enabled = true
fsync = true
hmac_key_env = "RDS_GUARD_AUDIT_KEY"
"""


def policy_error(text: str, source: str = "<string>") -> PolicyError:
    """The PolicyError that loading ``text`` raises."""
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(text, source)
    return caught.value


# --- every key of §4 and its default -------------------------------------------------------


def test_minimal_policy_has_every_default(tmp_path, monkeypatch):
    """`version = 1` alone: enforce, all three services, no naming, inherit true, no tags,
    sharing private with any account, audit on with fsync at ./rds-guard-audit.jsonl."""
    monkeypatch.chdir(tmp_path)
    policy = Policy.from_toml("version = 1\n")
    assert policy.version == 1
    assert policy.mode == "enforce"
    assert policy.services == frozenset({"rds", "docdb", "neptune"})
    assert policy.naming.pattern is None
    assert policy.naming.generate is None
    assert dict(policy.naming_operations) == {}
    assert policy.tags.required == ()
    assert policy.tags.inherit is True
    assert dict(policy.tags.defaults) == {}
    assert dict(policy.tags.forced) == {}
    assert dict(policy.tags.allowed) == {}
    assert dict(policy.tags.patterns) == {}
    assert policy.tags.adds_tags is False
    assert policy.tags.has_rules is False
    assert policy.sharing.public is False
    assert policy.sharing.accounts is None
    assert policy.audit.path == tmp_path / DEFAULT_AUDIT_PATH
    assert DEFAULT_AUDIT_PATH == "rds-guard-audit.jsonl"
    assert policy.audit.enabled is True
    assert policy.audit.fsync is True
    assert policy.audit.hmac_key_env is None
    assert policy.source == "<string>"


def test_design_example_reads_every_key(tmp_path, monkeypatch):
    """The §4 example loads and each of its keys lands where the contract says (with a
    ``generate`` for the copy override: the top-level one would break its ``^dr-{source}$``)."""
    monkeypatch.chdir(tmp_path)
    policy = Policy.from_toml(REFERENCE_EXAMPLE)
    assert policy.mode == "enforce"
    assert policy.services == frozenset({"rds", "docdb", "neptune"})
    assert policy.naming.pattern.text == "^{source}-(daily|manual)-[0-9]{8}$"
    assert policy.naming.generate.text == "{source}-manual-{utcnow:%Y%m%d}"
    assert set(policy.naming_operations) == {"CopyDBClusterSnapshot", "CopyDBSnapshot"}
    assert policy.naming_operations["CopyDBClusterSnapshot"].pattern.text == "^dr-{source}$"
    assert policy.naming_operations["CopyDBSnapshot"].pattern.text == "^dr-.+$"
    assert policy.tags.required == ("team", "env")
    assert policy.tags.inherit is True
    assert {k: t.text for k, t in policy.tags.defaults.items()} == {
        "managed-by": "rds-guard",
        "created": "{utcnow:%Y-%m-%d}",
        "owner": "{env:APP_OWNER}",
    }
    assert {k: t.text for k, t in policy.tags.forced.items()} == {"compliance": "pci"}
    assert {k: [g.text for g in globs] for k, globs in policy.tags.allowed.items()} == {
        "env": ["prod", "staging", "dev"],
        "cost-center": ["CC-*"],
    }
    assert policy.tags.patterns["owner"].pattern == r"^[a-z.]+@example\.com$"
    assert policy.tags.adds_tags is True
    assert policy.tags.has_rules is True
    assert policy.sharing.public is False
    assert policy.sharing.accounts == frozenset({"111122223333"})
    assert policy.audit.path == tmp_path / "rds-guard-audit.jsonl"
    assert policy.audit.enabled is True
    assert policy.audit.fsync is True
    assert policy.audit.hmac_key_env == "RDS_GUARD_AUDIT_KEY"


def test_non_default_values_are_read():
    """mode warn, a subset of services, inherit "always", public sharing, audit off and no
    fsync, and an absolute audit path (kept as written)."""
    policy = make_policy(
        """
        mode = "warn"
        services = ["docdb"]
        [tags]
        inherit = "always"
        [sharing]
        public = true
        accounts = []
        [audit]
        path = "/var/log/rds-guard.jsonl"
        enabled = false
        fsync = false
        """
    )
    assert policy.mode == "warn"
    assert policy.services == frozenset({"docdb"})
    assert policy.tags.inherit == "always"
    assert policy.sharing.public is True
    assert policy.sharing.accounts == frozenset()
    assert policy.audit.path == Path("/var/log/rds-guard.jsonl")
    assert policy.audit.enabled is False
    assert policy.audit.fsync is False


def test_inherit_false_is_read_as_false():
    """`inherit = false` is the boolean False (decide tests `is not False`)."""
    assert make_policy("[tags]\ninherit = false\n").tags.inherit is False


def test_empty_services_guards_nothing():
    """`services = []` is accepted and names no service."""
    assert make_policy("services = []\n").services == frozenset()


def test_policy_is_frozen():
    """A loaded policy cannot be changed in place."""
    policy = make_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.mode = "warn"  # type: ignore[misc]


@pytest.mark.parametrize("mode", ["Enforce", "ENFORCE", " enforce", "block", "", None, 1, True])
def test_a_policy_made_or_changed_in_code_is_held_to_the_modes_the_file_allows(mode):
    """A policy built in code, or changed from a loaded one (``dataclasses.replace``), with a
    mode the loader refuses: every mode but "enforce" used to send what breaks the policy, so
    a typo ("Enforce") turned the blocking off with no error."""
    with pytest.raises(PolicyError, match=r'^mode: must be "enforce" or "warn", not ') as error:
        dataclasses.replace(make_policy(), mode=mode)
    assert error.value.key == "mode"
    with pytest.raises(PolicyError, match=r"^mode: "):
        Policy(mode=mode)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"tags": None}, "tags"),
        ({"naming": 5}, "naming"),
        ({"sharing": None}, "sharing"),
        ({"export": {}}, "export"),
        ({"deletion": None}, "deletion"),
        ({"audit": "rds-guard-audit.jsonl"}, "audit"),
        ({"naming_operations": {"CreateDBSnapshot": "x"}}, "naming_operations"),
        ({"services": frozenset({"ec2"})}, "services"),
        ({"services": ["rds"]}, "services"),
        ({"version": 2}, "version"),
    ],
)
def test_a_policy_changed_in_code_to_what_no_call_is_judged_by_names_the_field(change, key):
    """``dataclasses.replace`` with a part of the wrong kind made a policy that failed at the
    first call with an AttributeError from deep inside (``tags=None``), or was kept as it was
    (``version=2``, a service rds_guard does not know): a `PolicyError` naming the field, at
    once; the parts of their kinds are taken."""
    with pytest.raises(PolicyError) as error:
        dataclasses.replace(make_policy(), **change)
    assert error.value.key == key
    assert str(error.value).startswith(f"{key}: must ")
    policy = make_policy()
    kept = dataclasses.replace(policy, tags=policy.tags, services=frozenset({"rds"}))
    call = ("CreateDBSnapshot", {"DBInstanceIdentifier": "db", "DBSnapshotIdentifier": "a--b"})
    assert kept.services == {"rds"}
    assert evaluate(kept, *call).violations == evaluate(policy, *call).violations != ()


@pytest.mark.parametrize("mode", ["Required", "ship ", "enforce", None])
def test_a_ledger_policy_made_in_code_is_held_to_the_ledgers_modes(mode):
    """The same for ``[audit.ledger] mode``, whose unknown modes would have shipped, never
    held a call for the ledger."""
    with pytest.raises(PolicyError, match=r'^audit.ledger.mode: must be "ship" or "required"'):
        LedgerPolicy("ledger", mode=mode)
    assert LedgerPolicy("ledger", mode="required").mode == "required"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('naming = { pattern = "^{source}-(?=x)" }', "(at '(?=x)', character 11 of the pattern)"),
        ('naming = { generate = "9{source}" }', "which must start with a letter"),
    ],
)
def test_a_problem_in_an_inline_table_is_placed_as_docs_policy_says(body, where):
    """docs/policy.md: in an inline table a regex's problem is placed by its line and the
    character of the pattern, a template's by its line alone (no column is made up)."""
    with pytest.raises(PolicyError) as error:
        Policy.from_toml(f"version = 1\n{body}\n", source="p.toml")
    assert error.value.line == 2 and str(error.value).endswith(where)


def test_naming_for_merges_an_override_with_the_top_level_rule():
    """An override replaces only the parts it sets: its pattern with the top generate, and
    operations without an override get the top-level rule."""
    policy = make_policy(
        """
        [naming]
        pattern = "^(top-gen|copy-gen)$"
        generate = "top-gen"
        [naming.operations.CopyDBClusterSnapshot]
        pattern = "^(dr-{source}|top-gen)$"
        [naming.operations.CopyDBSnapshot]
        generate = "copy-gen"
        """
    )
    copy_rule = policy.naming_for("CopyDBClusterSnapshot")
    assert copy_rule.pattern.text == "^(dr-{source}|top-gen)$"
    assert copy_rule.generate.text == "top-gen"
    assert copy_rule.generate_key == "naming.generate"
    copy_db_rule = policy.naming_for("CopyDBSnapshot")
    assert copy_db_rule.pattern.text == "^(top-gen|copy-gen)$"
    assert copy_db_rule.generate.text == "copy-gen"
    assert copy_db_rule.generate_key == "naming.operations.CopyDBSnapshot.generate"
    assert policy.naming_for("CreateDBSnapshot") is policy.naming


@pytest.mark.parametrize("operation", sorted(operations.NAMING_OPERATIONS))
def test_every_operation_that_names_a_snapshot_may_have_an_override(operation):
    """`[naming.operations.X]` accepts every create, copy and final-snapshot operation."""
    policy = make_policy(f'[naming.operations.{operation}]\npattern = "^x$"\n')
    assert policy.naming_for(operation).pattern.text == "^x$"


FINAL_OPERATIONS = sorted(
    name for name, row in operations.OPERATIONS.items() if row.kind is operations.Kind.FINAL
)


@pytest.mark.parametrize("operation", FINAL_OPERATIONS)
def test_a_generate_for_a_final_snapshot_is_refused_on_its_line(operation):
    """A delete's or stop's final snapshot is never named by the guard (the call names it or
    skips it): a generate there would be listed as enforced and never used."""
    error = body_error(f'[naming.operations.{operation}]\npattern = "^x$"\ngenerate = "x"\n')
    assert (error.key, error.line) == (f"naming.operations.{operation}.generate", 4)
    assert "a final snapshot's name is never generated" in error.problem
    assert "[deletion]" in error.problem


def test_naming_operations_rejects_an_operation_that_names_no_snapshot():
    """DeleteDBClusterSnapshot names no new snapshot: no naming override for it."""
    error = body_error('[naming.operations.DeleteDBClusterSnapshot]\npattern = "^x$"\n')
    assert error.key == "naming.operations.DeleteDBClusterSnapshot"
    assert error.line == 2
    assert "unknown key" in error.problem
    assert "DeleteDBClusterSnapshot names no snapshot it makes" in error.problem
    assert "did you mean" not in error.problem  # not DeleteDBCluster: it is no misspelling


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("create_db_snapshot", "CreateDBSnapshot"),
        ("create-db-cluster-snapshot", "CreateDBClusterSnapshot"),
        ("CreateDbSnapshot", "CreateDBSnapshot"),
    ],
)
def test_naming_operations_names_the_api_name_of_another_spelling(written, meant):
    """boto3's and the CLI's spelling of an operation (which `eval` takes) got the list of
    the operations alone."""
    error = body_error(f'[naming.operations.{written}]\npattern = "^x.*$"\n')
    assert error.key == f"naming.operations.{written}"
    assert f"(did you mean {meant!r}? operations are named as the API names them)" in (
        error.problem
    )


def test_naming_operations_says_boto3s_spelling_of_one_naming_nothing_names_nothing():
    error = body_error('[naming.operations.delete_db_cluster_snapshot]\npattern = "^x.*$"\n')
    assert "DeleteDBClusterSnapshot names no snapshot it makes" in error.problem


@pytest.mark.parametrize(
    "operation", ["RestoreDBClusterFromSnapshot", "CreateDBInstance", "StopDBCluster"]
)
def test_an_operation_alike_a_naming_one_in_name_only_gets_the_list_not_a_guess(operation):
    """A restore is no misspelt CreateDBClusterSnapshot, a create of an instance no misspelt
    CreateDBSnapshot: the error lists the operations naming rules are for."""
    error = body_error(f'[naming.operations.{operation}]\npattern = "^x$"\n')
    assert (error.key, error.line) == (f"naming.operations.{operation}", 2)
    assert "did you mean" not in error.problem
    assert "naming rules are for the operations that name a snapshot" in error.problem
    assert all(name in error.problem for name in operations.NAMING_OPERATIONS)


# --- contradictions between keys -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "line", "problem"),
    [
        (
            '[tags]\nrequired = [\n  "team",\n  "env",\n  "team",\n]\n',
            "tags.required[2]",
            6,  # an array's element at its own line
            "lists 'team' again (first at tags.required[0])",
        ),
        (
            '[audit]\nenabled = false\n[audit.ledger]\ntable = "rds-guard-ledger"\n',
            "audit.ledger",
            4,
            "the ledger mirrors the audit log, and audit.enabled = false writes none",
        ),
    ],
    ids=["a required key twice", "a ledger of no log"],
)
def test_keys_that_contradict_each_other_are_an_error_at_the_later_one(body, key, line, problem):
    """Each key reads well alone; together they say what the author cannot have meant."""
    error = body_error(body)
    assert (error.key, error.line) == (key, line)
    assert error.problem.startswith(problem)


# --- the PolicyError format and its line numbers --------------------------------------------


def test_policy_error_str_is_path_line_key_problem():
    """`str()` is exactly ``PATH:LINE: dotted.key: problem``; path, line, key are attributes."""
    error = policy_error('version = 1\nmode = "block"\n', source="/etc/rds_guard.toml")
    assert str(error) == '/etc/rds_guard.toml:2: mode: must be "enforce" or "warn", not \'block\''
    assert (error.path, error.line, error.key) == ("/etc/rds_guard.toml", 2, "mode")
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("written", "shown_as"),
    [("\\u202eteam", "\\u202eteam"), ("a\\nb", "a\\nb"), ("a\\u0000", "a\\x00")],
)
def test_a_key_that_does_not_print_is_shown_escaped_in_the_message(written, shown_as):
    """A quoted TOML key may hold a newline (which would split the one-line message) or a
    bidi override (which would show the rest of the line reversed): the message writes each
    such character as its escape; ``.key`` keeps the key as it is."""
    error = body_error(f'[tags.defaults]\n"{written}" = "x"\n')
    assert str(error).startswith(f"<string>:3: tags.defaults.{shown_as}: tag key ")
    assert str(error).isprintable()
    assert error.key == "tags.defaults." + written.encode().decode("unicode_escape")


@pytest.mark.parametrize(
    ("body", "key", "line", "problem"),
    [
        pytest.param(
            """\
            [tags]
            required = []

            [tags.defaults]
            owner = "ok"
            team = "{teem}"
            """,
            "tags.defaults.team",
            7,
            "unknown placeholder {teem}",
            id="nested-table",
        ),
        pytest.param(
            '\n\ntags = { required = ["team"], inherit = 2 }\n',
            "tags.inherit",
            4,
            "",
            id="inline-table",
        ),
        pytest.param(
            '\nservices = ["rds", "mysql"]\n',
            "services[1]",
            3,
            "unknown service 'mysql'",
            id="one-line-array",
        ),
        pytest.param(
            '[tags]\nrequired = [\n  "team",\n  "bad#key",\n]\n',
            "tags.required[1]",
            5,
            "",
            id="multi-line-array",
        ),
        pytest.param(
            """\
            [naming]
            pattern = "^ok$"

            [naming.operations.CopyDBSnapshot]
            pattern = "^dr-(.+$"
            """,
            "naming.operations.CopyDBSnapshot.pattern",
            6,
            "not a valid regex",
            id="naming-operations-table",
        ),
        pytest.param(
            '[naming]\n\noperations.CopyDBSnapshot.generate = "{bogus}"\n',
            "naming.operations.CopyDBSnapshot.generate",
            4,
            "",
            id="dotted-key",
        ),
        pytest.param(
            '[tags.forced]\n"team.name" = "ok"\n"cost:center" = "{nope}"\n',
            "tags.forced.cost:center",
            4,
            "",
            id="quoted-key",
        ),
    ],
)
def test_an_error_names_the_line_where_its_key_is_written(body, key, line, problem):
    """``<string>:LINE: dotted.key: problem``, LINE where the key is written: in a nested
    table its own line, not the header's; in an inline table or a one-line array the line of
    the table or array (an element's key carries its index); in an array over several lines
    the line of the array's key; and so for keys in ``[naming.operations.X]``, dotted keys
    and quoted keys holding dots or colons."""
    error = body_error(body)
    assert error.key == key
    assert error.line == line
    assert str(error).startswith(f"<string>:{line}: {key}: {problem}")


# --- unknown keys and "did you mean" -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "line", "hint"),
    [
        ('[tags]\nrequried = ["team"]\n', "tags.requried", 3, "required"),
        ("[tag]\nrequired = []\n", "tag", 2, "tags"),
        ('moed = "warn"\n', "moed", 2, "mode"),
        ("[audit]\nfsnyc = false\n", "audit.fsnyc", 3, "fsync"),
        ("[sharing]\naccount = []\n", "sharing.account", 3, "accounts"),
        ('[naming]\npatern = "x"\n', "naming.patern", 3, "pattern"),
        (
            '[naming.operations.CopyDBSnapshots]\npattern = "x"\n',
            "naming.operations.CopyDBSnapshots",
            2,
            "CopyDBSnapshot",
        ),
        (
            '[naming.operations.CopyDBSnapshot]\ngenrate = "x"\n',
            "naming.operations.CopyDBSnapshot.genrate",
            3,
            "generate",
        ),
    ],
)
def test_unknown_key_is_an_error_with_a_did_you_mean_hint(body, key, line, hint):
    """A misspelt key is an error naming the key and the close known one."""
    error = body_error(body)
    assert error.key == key
    assert error.line == line
    assert error.problem.startswith("unknown key")
    assert f"(did you mean {hint!r}?)" in error.problem


def test_an_empty_key_is_an_unknown_key_on_its_line():
    """``"" = ...`` at the top level: still the file, the line and the key, shown quoted as
    it is written (empty, it would be no key at all)."""
    error = body_error('\n"" = false\n')
    assert (error.key, error.line) == ('""', 3)
    assert str(error).startswith('<string>:3: "": unknown key (known: audit,')


def test_unknown_key_without_a_close_match_lists_the_known_keys():
    """Nothing close: the hint lists what the table knows."""
    error = body_error("[audit]\nzzz = 1\n")
    assert error.key == "audit.zzz"
    assert "did you mean" not in error.problem
    assert "known: enabled, fsync, hmac_key_env, ledger, lock_timeout, path" in error.problem


# --- wrong types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        (
            "[audit]\npath = 1979-05-27T07:32:00Z\n",
            "audit.path",
            "must be a string, not a datetime",
        ),
        ("[naming]\npattern = 5\n", "naming.pattern", "must be a string, not an integer"),
        ('[naming]\ngenerate = ["x"]\n', "naming.generate", "must be a string, not an array"),
        ("[audit]\nhmac_key_env = 1.5\n", "audit.hmac_key_env", "must be a string, not a number"),
        (
            '[tags.defaults]\nowner = ["a"]\n',
            "tags.defaults.owner",
            "must be a string, not an array",
        ),
        (
            '[tags]\nrequired = "team"\n',
            "tags.required",
            "must be an array of strings, not a string",
        ),
        (
            '[tags]\nrequired = ["team", 7]\n',
            "tags.required[1]",
            "must be a string, not an integer",
        ),
        ('services = "rds"\n', "services", "must be an array of strings, not a string"),
        ('[sharing]\npublic = "no"\n', "sharing.public", "must be true or false, not a string"),
        ("[audit]\nenabled = 1\n", "audit.enabled", "must be true or false, not an integer"),
        ('naming = "x"\n', "naming", "must be a table, not a string"),
        ("[[tags]]\nrequired = []\n", "tags", "must be a table, not an array"),
        ('[tags]\nallowed = ["x"]\n', "tags.allowed", "must be a table, not an array"),
        ('[tags.allowed]\nenv = "prod"\n', "tags.allowed.env", "must be an array of strings"),
        ("[tags.patterns.owner]\nx = 1\n", "tags.patterns.owner", "must be a string, not a table"),
        (
            '[naming.operations]\nCopyDBSnapshot = "x"\n',
            "naming.operations.CopyDBSnapshot",
            "must be a table, not a string",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error(body, key, problem):
    """Datetimes, integers, arrays, tables where something else belongs: a PolicyError."""
    error = body_error(body)
    assert error.key == key
    assert problem in error.problem


def test_mode_of_the_wrong_type_is_an_error():
    """`mode` holding a date is refused like an unknown mode."""
    error = body_error("mode = 1979-05-27\n")
    assert error.key == "mode"
    assert error.line == 2
    assert 'must be "enforce" or "warn"' in error.problem


@pytest.mark.parametrize("text", [b"version = 1\n", bytearray(b"version = 1\n"), None, 1])
def test_from_toml_refuses_text_that_is_not_a_str_with_a_type_error(text):
    """Bytes (or anything but a str) is a TypeError saying what to pass, not AttributeError."""
    with pytest.raises(
        TypeError, match=r"policy text must be a str, not (bytes|bytearray|NoneType|int)"
    ):
        Policy.from_toml(text)


# --- version, mode, inherit, services --------------------------------------------------------


def test_missing_version_is_an_error_saying_what_to_write():
    """No `version` key: a PolicyError telling the user to write `version = 1`."""
    error = policy_error('mode = "warn"\n')
    assert error.key == "version"
    assert "missing key 'version'" in error.problem
    assert "version = 1" in error.problem


def test_a_version_written_under_a_table_header_is_named_where_it_is():
    """TOML makes a key after ``[tags]`` one of the table's: the error names that key and its
    line, not a version missing with no line."""
    error = policy_error('[tags]\nrequired = ["team"]\nversion = 1\n')
    assert (error.key, error.line) == ("tags.version", 3)
    assert "version belongs at the top of the file, before [tags]" in error.problem


def test_a_tag_named_version_is_no_misplaced_version() -> None:
    """A tag table may hold a tag named ``version`` (text): with the top-level version
    missing, that is what the error says, not that the tag belongs at the top."""
    error = policy_error('[tags.defaults]\nversion = "1.2"\n')
    assert error.key == "version" and "missing key 'version'" in error.problem


@pytest.mark.parametrize(
    ("text", "key", "line", "header"),
    [
        ("[audit.ledger]\nversion = 1\n", "audit.ledger.version", 2, "[audit.ledger]"),
        (
            '[naming]\npattern = "^a$"\n[naming.operations.CopyDBSnapshot]\nversion = 1\n',
            "naming.operations.CopyDBSnapshot.version",
            4,
            "[naming.operations.CopyDBSnapshot]",
        ),
        ("[[tags]]\nversion = 1\n", "tags[0].version", 2, "[[tags]]"),
        ('mode = "warn"\n[tags]\n[[tags.x]]\nversion = 1\n', "tags.x[0].version", 4, "[[tags.x]]"),
    ],
)
def test_a_version_written_under_a_deeper_header_is_named_where_it_is(
    text: str, key: str, line: int, header: str
) -> None:
    """Under a table of a table, or an array of tables, the version is that table's too: it
    was a version missing, with no line."""
    error = policy_error(text)
    assert (error.key, error.line) == (key, line)
    assert f"version belongs at the top of the file, before {header}" in error.problem


@pytest.mark.parametrize("value", ["2", "0", "-1"])
def test_any_version_but_the_integer_1_is_rejected(value):
    """version 2 or 0: unsupported, saying which version this rds_guard reads."""
    error = policy_error(f"\nversion = {value}\n")
    assert error.key == "version"
    assert error.line == 2
    assert "unsupported version" in error.problem
    assert "reads version 1" in error.problem


@pytest.mark.parametrize(
    ("value", "kind"),
    [("true", "a boolean"), ('"1"', "a string"), ("1.0", "a number"), ("[1]", "an array")],
)
def test_a_version_that_is_no_integer_says_it_must_be_one(value, kind):
    """`version = "1"` (or true, a bool equal to 1 in Python, or 1.0): "must be an integer",
    not "unsupported version" (it names the version this rds_guard reads)."""
    error = policy_error(f"\nversion = {value}\n")
    assert (error.key, error.line) == ("version", 2)
    assert error.problem == f"must be an integer, not {kind} (write: version = 1)"


@pytest.mark.parametrize("value", ['"block"', '"Enforce"', '""', "true"])
def test_unknown_mode_is_rejected(value):
    """Only "enforce" and "warn", spelt exactly."""
    error = body_error(f"mode = {value}\n")
    assert error.key == "mode"
    assert 'must be "enforce" or "warn"' in error.problem


@pytest.mark.parametrize("value", ["0", "1", "2", '"yes"', '"Always"', "[]"])
def test_inherit_accepts_only_true_false_or_always(value):
    """`inherit = 0` or `1` must not slip through as False/True (0 == False in Python)."""
    error = body_error(f"[tags]\ninherit = {value}\n")
    assert error.key == "tags.inherit"
    assert error.line == 3
    assert 'must be true, false or "always"' in error.problem


def test_unknown_service_is_rejected_with_a_hint():
    """`docbd` is not a service; the hint names `docdb`."""
    error = body_error('services = ["rds", "docbd"]\n')
    assert error.key == "services[1]"
    assert "unknown service 'docbd'" in error.problem
    assert "did you mean 'docdb'" in error.problem


def test_unknown_service_without_a_close_match_lists_the_services():
    """No close match: the three known services are listed."""
    error = body_error('services = ["s3"]\n')
    assert "known: docdb, neptune, rds" in error.problem


# --- regexes and templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[naming]\npattern = "^(x$"\n', "naming.pattern"),
        ('[naming]\npattern = "^{source}-[$"\n', "naming.pattern"),
        ('[tags.patterns]\nowner = "[a-"\n', "tags.patterns.owner"),
    ],
)
def test_invalid_regex_is_an_error(body, key):
    """A regex that does not compile (with `{source}` inserted) is refused at load."""
    error = body_error(body)
    assert error.key == key
    assert error.line == 3
    assert error.problem.startswith("not a valid regex: ")


@pytest.mark.parametrize(
    ("body", "line", "excerpt", "column"),
    [
        pytest.param('[naming]\npattern = "^{source}-[$"\n', 3, "'[$'", 22, id="after-source"),
        pytest.param(
            '[tags.patterns]\nowner = "^\\\\w+\\\\.\\\\q"\n', 3, "'\\\\q'", 18, id="after-escapes"
        ),
        pytest.param(
            "[tags.patterns]\nowner = '''\n^dr-\n  (x$'''\n",
            5,
            "'(x$'",
            3,
            id="multi-line",
        ),
        pytest.param(
            '[naming]\npattern = """^dr-\\\n    (x$"""\n', 4, "'(x$'", 5, id="line-ending-backslash"
        ),
    ],
)
def test_a_regex_error_points_into_the_file_not_the_expanded_pattern(body, line, excerpt, column):
    """The line and column of the problem in the file, and the text there: not an offset
    in the pattern with `{source}` filled in or `\\w` spelled out."""
    error = body_error(body)
    assert error.line == line
    assert error.problem.startswith("not a valid regex: ")
    assert error.problem.endswith(f"(at {excerpt}, column {column})")


def test_a_regex_error_in_an_inline_table_names_the_character_of_the_pattern():
    """Where the value cannot be found as written, the position counts in the pattern."""
    error = body_error('naming = { pattern = "^a(x" }\n')
    assert (error.key, error.line) == ("naming.pattern", 2)
    assert error.problem.endswith("(at '(x', character 3 of the pattern)")


@pytest.mark.parametrize(
    ("body", "start"),
    [
        ('[naming]\npattern = "^{source}-Manual$"\n', "the uppercase letter 'M' can never match"),
        (
            '[naming]\npattern = "^{source}-{utcnow:%Y%m%d}$"\n',
            "{utcnow:%Y%m%d}: a naming pattern's only placeholder is {source}",
        ),
        ('[naming]\npattern = "^a(?<=b)$"\n', "RE2 has no lookbehind (?<=...)"),
        ('[naming]\npattern = "^a\\\\b$"\n', "\\b: RE2's word boundary knows only ASCII"),
        # a typo'd placeholder, or braces round it, is text no identifier holds
        ('[naming]\npattern = "^{sorce}-[0-9]{8}$"\n', "{sorce}: a naming pattern's only"),
        ('[naming]\npattern = "^{source}-{date}$"\n', "{date}: a naming pattern's only"),
        ('[naming]\npattern = "^{ source }-x$"\n', "{ source }-x: a brace neither {source}"),
        ('[naming]\npattern = "^{source}-{1-x$"\n', "{1-x$: a brace neither {source} nor"),
    ],
)
def test_a_naming_pattern_that_cannot_work_is_refused_at_its_column(body, start):
    """An uppercase literal, a placeholder other than {source} (a typo such as {sorce} was
    read as literal text: every call blocked), a construct RE2 lacks: a PolicyError on the
    pattern's line, naming the column."""
    error = body_error(body)
    assert (error.key, error.line) == ("naming.pattern", 3)
    assert error.problem.startswith(start)
    assert "column " in error.problem


@pytest.mark.parametrize(
    "placeholder", ["{source}", "{utcnow:%Y}", "{region}", "{team}", "{SOURCE}"]
)
def test_a_placeholder_in_a_tag_pattern_is_refused_at_its_column(placeholder):
    """A tag pattern has no placeholders: `{source}` there would be literal braces, which no
    tag value holds, so the pattern could never match and every call would be blocked."""
    error = body_error(f'[tags.patterns]\nteam = "^{placeholder}-[a-z]+$"\n')
    assert (error.key, error.line) == ("tags.patterns.team", 3)
    assert error.problem.startswith(f"{placeholder}: a tag pattern has no placeholders")
    assert "column 10" in error.problem


# --- generate against its pattern ------------------------------------------------------------


def test_a_copy_override_that_the_top_generate_breaks_is_refused():
    """The §4 example as first written: a copy override `^dr-{source}$` without its own
    generate keeps `{source}-manual-{utcnow:%Y%m%d}`, whose name it refuses, so every copy
    that names no target would be blocked. Refused at load, on the generate's line."""
    days = UtcDays()
    error = body_error(
        """\
        [naming]
        pattern = "^{source}-(daily|manual)-[0-9]{8}$"
        generate = "{source}-manual-{utcnow:%Y%m%d}"
        [naming.operations.CopyDBClusterSnapshot]
        pattern = "^dr-{source}$"
        """
    )
    assert (error.key, error.line) == ("naming.generate", 4)
    assert error.problem == days.expect(
        lambda year: (
            "for a CopyDBClusterSnapshot of a source named 'orders' it would name the snapshot"
            f" 'orders-manual-{year}0531', which does not match"
            " naming.operations.CopyDBClusterSnapshot.pattern ^dr-{source}$"
        ),
        error.problem,
        "%Y",
    )


@pytest.mark.parametrize("directive", ["%e", "%_d", "%k", "%l"])
def test_a_generate_date_padded_with_a_space_on_some_days_is_refused(directive):
    """``%e`` renders the 31st as ``31`` and the 1st as `` 1``: an identifier holds no space,
    so every generated name would be refused nine days a month (or ten hours a day)."""
    days = UtcDays()
    error = body_error(f'[naming]\ngenerate = "{{source}}-{{utcnow:%Y%m{directive}}}"\n')
    assert (error.key, error.line) == ("naming.generate", 3)
    assert error.problem == days.expect(
        lambda year: (
            "an identifier may hold only ASCII letters, digits and hyphens, not ' ' on"
            f" {year}-01-01 at 01:01:01 UTC"
        ),
        error.problem,
        "%Y",
    )


def test_a_generate_its_pattern_refuses_on_some_days_is_refused():
    """``%-d`` renders the 1st one digit short: ``[0-9]{8}`` refuses it nine days a month."""
    days = UtcDays()
    error = body_error(
        '[naming]\npattern = "^{source}-[0-9]{8}$"\ngenerate = "{source}-{utcnow:%Y%m%-d}"\n'
    )
    assert (error.key, error.line) == ("naming.generate", 4)
    assert any(
        error.problem.endswith(
            f" on {year}-01-01 at 01:01:01 UTC it would name the snapshot 'orders-{year}011',"
            " which does not match naming.pattern ^{source}-[0-9]{8}$"
        )
        for year in days.days("%Y")
    ), error.problem


def test_a_generate_without_source_is_held_against_a_pattern_without_source():
    """Neither reads the source: the name is the same whatever the call copies, and this
    pattern refuses it for every call that names no snapshot."""
    days = UtcDays()
    error = body_error(
        '[naming]\npattern = "^daily-[0-9]{8}$"\ngenerate = "manual-{utcnow:%Y%m%d}"\n'
    )
    assert (error.key, error.line) == ("naming.generate", 4)
    assert any(
        f"'manual-{year}0531', which does not match naming.pattern" in error.problem
        for year in days.days("%Y")
    ), error.problem


def test_a_generate_with_source_is_not_guessed_against_a_pattern_without_it():
    """``{source}`` against ``^[a-z]+-daily-...``: whether it matches depends on the source
    each call names (``orders2`` would not), so it is judged at each call, not at load."""
    policy = make_policy(
        '[naming]\npattern = "^[a-z]+-daily-[0-9]{8}$"\n'
        'generate = "{source}-daily-{utcnow:%Y%m%d}"\n'
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def judged(source: str) -> list[str]:
        params = {"DBClusterIdentifier": source}
        decision = evaluate(policy, "CreateDBClusterSnapshot", params, now=now)
        return [v.rule for v in decision.violations]

    assert judged("orders") == []
    assert judged("orders2") == ["identifier.pattern"]


def test_an_override_generate_is_held_against_the_top_pattern():
    """A generate of CopyDBSnapshot alone is judged by the pattern it gets: the top one."""
    error = body_error(
        '[naming]\npattern = "^{source}-manual-[0-9]+$"\n'
        '[naming.operations.CopyDBSnapshot]\ngenerate = "{source}-copy"\n'
    )
    assert (error.key, error.line) == ("naming.operations.CopyDBSnapshot.generate", 5)
    assert "'orders-copy', which does not match naming.pattern" in error.problem


@pytest.mark.parametrize(
    ("generate", "problem"),
    [
        ("{source}--x", "must not contain two consecutive hyphens"),
        ("{source}-" + "x" * 60, "must be 1 to 63 characters long, is 67"),
        ("{source}-", "must not end with a hyphen"),
        ("1-{source}", "must start with a letter"),
    ],
)
def test_a_generate_whose_name_aws_refuses_is_refused(generate, problem):
    """The name generate renders must satisfy AWS's identifier rules too (63 characters for a
    cluster snapshot)."""
    error = body_error(f'[naming]\npattern = "^.*{{source}}.*$"\ngenerate = "{generate}"\n')
    assert error.key == "naming.generate"
    assert problem in error.problem


@pytest.mark.parametrize(
    "body",
    [
        # the pattern holds no {source}: the name depends on what the source is called
        '[naming]\npattern = "^snap-[a-z]+$"\ngenerate = "{source}-x"\n',
        # {env:...} is known only at call time
        '[naming]\npattern = "^{source}-[a-z]+$"\ngenerate = "{env:PREFIX}-x"\n',
        # the generate fits: {service}, {region} and {utcnow} rendered
        '[naming]\npattern = "^{source}-[a-z]+-[a-z0-9-]+-[0-9]{8}t[0-9]{6}z$"\n'
        'generate = "{source}-{service}-{region}-{utcnow}"\n',
    ],
)
def test_a_generate_that_cannot_be_judged_at_load_or_fits_loads(body):
    """Only a pattern holding {source} and a generate without {env:...} are held together."""
    make_policy(body)


def test_naming_pattern_braces_other_than_source_are_regex_syntax():
    """`{8}` in a naming pattern is a quantifier, not an unknown placeholder."""
    policy = make_policy('[naming]\npattern = "^{source}-[0-9]{8}$"\n')
    assert policy.naming.pattern.fullmatch("orders-20261129", "orders")


@pytest.mark.parametrize(
    ("table", "template"),
    [("naming", "generate"), ("tags.defaults", "owner"), ("tags.forced", "owner")],
)
def test_unknown_template_placeholder_is_an_error(table, template):
    """`{sorce}` in generate, defaults or forced: a PolicyError naming the known ones."""
    error = body_error(f'[{table}]\n{template} = "{{sorce}}-x"\n')
    assert error.key == f"{table}.{template}"
    assert error.line == 3
    assert "unknown placeholder {sorce}" in error.problem
    assert "{source}" in error.problem


@pytest.mark.parametrize("value", ["{env:}", "{env}", "{env:1ABC}", "{env:A-B}"])
def test_bad_env_placeholder_is_an_error(value):
    """`{env:NAME}` needs a valid variable name."""
    error = body_error(f'[tags.defaults]\nowner = "{value}"\n')
    assert error.key == "tags.defaults.owner"
    assert "{env:NAME} needs a variable name" in error.problem


# --- what templates render, held to AWS's rules at load --------------------------------------


@pytest.mark.parametrize(
    ("generate", "problem"),
    [
        ("{utcnow}", "must start with a letter"),
        ("{utcnow:%Y%m%d}-{source}", "must start with a letter"),
        ("9{source}", "must start with a letter"),
        ("x" * 70, "must be 1 to 63 characters long, is 70"),
        ("{source}--copy", "must not contain two consecutive hyphens"),
        ("{source}-", "must not end with a hyphen"),
        ("{env:SUFFIX}-", "must not end with a hyphen"),
        ("-{env:PREFIX}{source}", "must start with a letter"),
        ("{region}-{source}-" + "x" * 52, "must be 1 to 63 characters long, is 64"),
    ],
)
def test_a_generate_that_renders_no_name_aws_accepts_is_refused_at_its_column(generate, problem):
    """Rendered with the values most in its favour (a source named 'x', each {env:...} one
    letter and then empty), a generate that still breaks AWS's identifier rules for a cluster
    snapshot (63 characters) would break every call: refused at load, where it is written."""
    error = body_error(f'[naming]\ngenerate = "{generate}"\n')
    assert (error.key, error.line) == ("naming.generate", 3)
    assert problem in error.problem
    assert "column 13" in error.problem


@pytest.mark.parametrize(
    "body",
    [
        # some source names are short enough, others are not: judged at call time
        '[naming]\ngenerate = "{source}-' + "x" * 60 + '"\n',
        # a name of 70 fits a DB snapshot (255), not a cluster snapshot
        '[naming.operations.CreateDBSnapshot]\ngenerate = "' + "x" * 70 + '"\n',
        # {env:...} may supply the letter in front, or nothing where the name is long
        '[naming]\ngenerate = "{env:PREFIX}9{source}"\n',
        '[naming]\ngenerate = "a-{env:SUFFIX}"\n',
        '[naming]\ngenerate = "{env:PREFIX}' + "x" * 63 + '"\n',
        '[naming]\ngenerate = "s{utcnow:%-m%-d}-{source}-{operation}-{service}-{region}"\n',
    ],
)
def test_a_generate_that_some_calls_render_well_loads(body):
    """Only a template whose every rendering AWS refuses is refused."""
    make_policy(body)


@pytest.mark.parametrize("table", ["tags.defaults", "tags.forced"])
@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("aws:{source}", "must not start with 'aws:' or 'rds:'"),
        ("AWS:{utcnow:%Y}", "must not start with 'aws:' or 'rds:'"),
        ("aws:{region}", "must not start with 'aws:' or 'rds:'"),
        ("rds:{env:TEAM}", "must not start with 'aws:' or 'rds:'"),
        ("{source}" + "v" * 256, "value must be 0 to 256 characters long, is 257"),
        ("{env:TEAM}" + "v" * 257, "value must be 0 to 256 characters long, is 258"),
    ],
)
def test_a_tag_template_that_renders_no_value_aws_accepts_is_refused_at_its_column(
    table, template, problem
):
    """A tag value template whose fixed text alone breaks AWS's tag rules (a reserved prefix,
    more than 256 characters) would make every call tags.aws: refused at load."""
    error = body_error(f'[{table}]\nteam = "{template}"\n')
    assert (error.key, error.line) == (f"{table}.team", 3)
    assert problem in error.problem
    assert "column 9" in error.problem


@pytest.mark.parametrize(
    "template",
    ["{service}:{source}", "{env:TEAM}" + "v" * 256, "v" * 255 + "{source}", "{env:P}aws:x"],
)
def test_a_tag_template_that_some_calls_render_well_loads(template):
    """`{service}:` is reserved for rds only; an empty {env:...} or a one-letter source fits
    256 characters; a variable in front may carry a reserved prefix off."""
    make_policy(f'[tags.forced]\nteam = "{template}"\n')


# --- literal tag keys and values against AWS's tag rules -------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ('[tags.defaults]\n"aws:team" = "x"\n', "tags.defaults.aws:team", "must not start with"),
        ('[tags.forced]\n"RDS:team" = "x"\n', "tags.forced.RDS:team", "must not start with"),
        ('[tags.defaults]\nteam = "AWS:x"\n', "tags.defaults.team", "must not start with"),
        ('[tags.forced]\nteam = "a\\tb"\n', "tags.forced.team", "U+0009"),
        ('[tags.defaults]\n"a#b" = "x"\n', "tags.defaults.a#b", "U+0023"),
        ('[tags.defaults]\nteam = "!{region}"\n', "tags.defaults.team", "'!'"),
        ("[tags.defaults]\nteam = '{{x}}'\n", "tags.defaults.team", "U+007B"),
        ('[tags.defaults]\nteam = "' + "v" * 257 + '"\n', "tags.defaults.team", "0 to 256"),
        ('[tags.defaults]\n"" = "x"\n', 'tags.defaults.""', "1 to 128"),
        ('[tags]\nrequired = ["aws:team"]\n', "tags.required[0]", "must not start with"),
        ('[tags.allowed]\n"a b!" = ["x"]\n', 'tags.allowed."a b!"', "U+0021"),
        ('[tags.allowed]\nenv = ["ok", "aws:*"]\n', "tags.allowed.env[1]", "must not start with"),
        ('[tags.allowed]\nenv = ["a\\nb*"]\n', "tags.allowed.env[0]", "U+000A"),
    ],
)
def test_literal_tag_keys_and_values_follow_aws_tag_rules(body, key, problem):
    """Keys of defaults/forced/allowed, required keys, literal values and allowed values
    (their `*` removed) are checked against AWS's tag rules at load."""
    error = body_error(body)
    assert error.key == key
    assert problem in error.problem


def test_a_129_character_tag_key_is_rejected_and_128_is_fine():
    """The 128-character key limit is checked at load."""
    make_policy(f'[tags.defaults]\n{"k" * 128} = "v"\n')
    error = body_error(f'[tags.defaults]\n{"k" * 129} = "v"\n')
    assert error.key == "tags.defaults." + "k" * 129
    assert "key must be 1 to 128 characters long, is 129" in error.problem


def test_a_value_whose_variable_may_come_first_is_not_checked_for_prefixes_at_load():
    """`{env:PREFIX}aws:x` is `aws:x` only when PREFIX is empty: judged at call time."""
    policy = make_policy('[tags.defaults]\nteam = "{env:PREFIX}aws:x"\n')
    assert policy.tags.defaults["team"].text == "{env:PREFIX}aws:x"


@pytest.mark.parametrize("table", ["tags.defaults", "tags.forced"])
@pytest.mark.parametrize(
    ("template", "char"),
    [("{utcnow:%Y,%m}", "','"), ("d-{utcnow:%Y#%j}", "'#'"), ("{source}-{utcnow:%Y;%m}", "';'")],
)
def test_utcnow_formats_of_tag_values_follow_aws_tag_rules_at_load(table, template, char):
    """`{utcnow:FMT}` renders the same characters at every call: a format giving one that AWS
    refuses in a tag value (a comma) is a PolicyError naming the key, not tags.aws on every
    call."""
    error = body_error(f'[{table}]\ncreated = "{template}"\n')
    assert error.key == f"{table}.created"
    assert error.line == 3
    assert char in error.problem


def test_utcnow_formats_giving_allowed_characters_load():
    """Dates with - : / + . and spaces, and the default format, are fine."""
    policy = make_policy(
        '[tags.defaults]\na = "{utcnow:%Y-%m-%d %H:%M:%S %z}"\nb = "{utcnow}"\n'
        '[tags.forced]\nc = "{utcnow:%d/%m/%Y}.{source}"\n'
    )
    assert set(policy.tags.defaults) == {"a", "b"}


def test_allowed_value_with_two_stars_is_rejected():
    """Each allowed value may hold at most one `*`."""
    error = body_error('[tags.allowed]\nenv = ["prod", "*-x-*"]\n')
    assert error.key == "tags.allowed.env[1]"
    assert error.line == 3
    assert "at most one '*'" in error.problem


def test_forced_literal_value_must_be_allowed():
    """A forced key with an `allowed` list must be allowed by it."""
    error = body_error(
        """\
        [tags.allowed]
        env = ["prod", "staging"]
        [tags.forced]
        env = "dev"
        """
    )
    assert error.key == "tags.forced.env"
    assert error.line == 5
    assert "'dev' is not in tags.allowed.env" in error.problem


def test_forced_literal_value_matching_an_allowed_glob_is_fine():
    """`CC-*` allows a forced `CC-42`."""
    policy = make_policy('[tags.allowed]\ncc = ["CC-*"]\n[tags.forced]\ncc = "CC-42"\n')
    assert policy.tags.forced["cc"].text == "CC-42"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ('[tags.allowed]\nenv = ["prod"]\n', "value 'dev' is not in tags.allowed.env"),
        ('[tags.patterns]\nenv = "^p.*$"\n', "value 'dev' does not match tags.patterns.env"),
    ],
)
def test_a_literal_default_is_checked_against_allowed_and_patterns_too(rule, problem):
    """Stricter than the contract asks (it names forced values only), on purpose: a literal
    default the policy's own rules refuse would be a violation on every call that lacks the
    key. The error names the table the value is in and the rule's table."""
    error = body_error(rule + '[tags.defaults]\nenv = "dev"\n')
    assert error.key == "tags.defaults.env"
    assert error.line == 5
    assert error.problem == problem


def test_forced_literal_value_must_match_its_pattern():
    """A forced literal that `tags.patterns` would refuse is refused at load."""
    error = body_error('[tags.patterns]\nteam = "^[a-z]+$"\n[tags.forced]\nteam = "Ops"\n')
    assert error.key == "tags.forced.team"
    assert "does not match tags.patterns.team" in error.problem


def test_forced_template_value_is_not_checked_against_allowed():
    """`{env:X}` has no value at load: it is judged at call time."""
    policy = make_policy('[tags.allowed]\nenv = ["prod"]\n[tags.forced]\nenv = "{env:ENV}"\n')
    assert policy.tags.forced["env"].env_names == ("ENV",)


@pytest.mark.parametrize(
    ("table", "rule", "template", "problem"),
    [
        (
            "tags.forced",
            '[tags.patterns]\ncreated = "^[0-9]{8}$"\n',
            "{utcnow:%Y-%m-%d}",
            "value 'YEAR-05-31' does not match tags.patterns.created",
        ),
        (
            "tags.defaults",
            '[tags.allowed]\ncreated = ["prod"]\n',
            "{utcnow:%Y}",
            "value 'YEAR' is not in tags.allowed.created",
        ),
        (  # right on the 31st, wrong on the 1st: a one-digit day
            "tags.forced",
            '[tags.patterns]\ncreated = "^[0-9]{8}$"\n',
            "{utcnow:%Y%m%-d}",
            "value 'YEAR011' on YEAR-01-01 at 01:01:01 UTC does not match tags.patterns.created",
        ),
    ],
)
def test_a_date_template_is_checked_against_allowed_and_patterns(table, rule, template, problem):
    """A default or forced value made of literal text and dates alone renders the same for
    every call of a day: one the policy's own rules refuse, on the day the policy loads or on
    another, would block each call that gets it. (YEAR: the year it loads in.)"""
    days = UtcDays()
    error = body_error(rule + f'[{table}]\ncreated = "{template}"\n')
    assert (error.key, error.line) == (f"{table}.created", 5)
    assert error.problem == days.expect(
        lambda year: problem.replace("YEAR", year), error.problem, "%Y"
    )


def test_a_pattern_none_of_the_allowed_values_matches_is_refused():
    """``allowed = ["prod"]`` and ``patterns = "^dev$"``: no value passes both, so every call
    that sets the key is blocked. With a glob (``CC-*``) some value might, and it loads."""
    error = body_error(
        '[tags.allowed]\nenv = ["prod", "staging"]\n[tags.patterns]\nenv = "^dev$"\n'
    )
    assert (error.key, error.line) == ("tags.patterns.env", 5)
    assert error.problem == (
        "matches none of the values tags.allowed.env lists: no value of 'env' could pass both"
    )
    policy = make_policy('[tags.allowed]\ncc = ["CC-*"]\n[tags.patterns]\ncc = "^CC-[0-9]+$"\n')
    assert set(policy.tags.patterns) == {"cc"}


def test_a_date_template_is_judged_for_the_year_the_policy_loads_in():
    """``{utcnow:%Y}`` forced, the allowed years listed: right this year, it loads (a check in
    a fixed year would refuse it from next year on); no year listed is this one, refused."""
    days = UtcDays()
    year = int(days.days("%Y")[0])
    policy = make_policy(
        f'[tags.allowed]\nyr = ["{year}", "{year + 1}"]\n[tags.forced]\nyr = "{{utcnow:%Y}}"\n'
    )
    assert set(policy.tags.forced) == {"yr"}
    error = body_error(
        f'[tags.allowed]\nyr = ["{year - 1}"]\n[tags.forced]\nyr = "{{utcnow:%Y}}"\n'
    )
    assert error.problem == days.expect(
        lambda now: f"value '{now}' is not in tags.allowed.yr", error.problem, "%Y"
    )
    assert [moment.year for moment in this_years(datetime(2031, 3, 1, tzinfo=UTC))] == [2031, 2031]


def test_a_date_template_its_rules_accept_on_every_day_loads():
    policy = make_policy(
        '[tags.patterns]\ncreated = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"\n'
        '[tags.forced]\ncreated = "{utcnow:%Y-%m-%d}"\n'
    )
    assert policy.tags.forced["created"].text == "{utcnow:%Y-%m-%d}"


# --- sharing and audit ------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["1234", "1111222233334", "11112222333a", " 111122223333"])
def test_sharing_accounts_must_be_12_digit_ids(account):
    """`[sharing] accounts` holds 12-digit account ids only."""
    error = body_error(f'[sharing]\naccounts = ["111122223333", "{account}"]\n')
    assert error.key == "sharing.accounts[1]"
    assert error.line == 3
    assert f"{account!r} is not a 12-digit account id" in error.problem


def test_sharing_accounts_must_be_strings():
    """An account id written as a TOML integer is a type error (it could lose leading zeros)."""
    error = body_error("[sharing]\naccounts = [111122223333]\n")
    assert error.key == "sharing.accounts[0]"
    assert "must be a string, not an integer" in error.problem


@pytest.mark.parametrize("path", ["a\\u0000b", "\\u0000", "logs/audit.jsonl\\u0000"])
def test_an_audit_path_holding_nul_is_a_policy_error(path):
    """No file name holds NUL: refused at load, naming `audit.path`, not a ValueError at the
    first write."""
    error = body_error(f'[audit]\npath = "{path}"\n')
    assert error.key == "audit.path"
    assert error.line == 3
    assert "NUL" in error.problem


def test_from_toml_takes_a_relative_audit_path_from_the_cwd(tmp_path, monkeypatch):
    """`Policy.from_toml` has no file: a relative audit path is relative to the cwd."""
    monkeypatch.chdir(tmp_path)
    policy = make_policy('[audit]\npath = "logs/audit.jsonl"\n')
    assert policy.audit.path == tmp_path / "logs" / "audit.jsonl"
    assert policy.audit.path.is_absolute()


def test_load_policy_takes_a_relative_audit_path_from_the_policy_folder(tmp_path, monkeypatch):
    """`load_policy`: a relative audit path is relative to the policy file's folder."""
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "p.toml").write_text('version = 1\n[audit]\npath = "logs/audit.jsonl"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_policy(folder / "p.toml").audit.path == folder / "logs" / "audit.jsonl"


def test_load_policy_by_a_relative_name_keeps_the_audit_path_absolute(tmp_path, monkeypatch):
    """Loaded as `conf/p.toml`, the audit path stays in conf/ even if the cwd changes later."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "p.toml").write_text("version = 1\n")
    monkeypatch.chdir(tmp_path)
    policy = load_policy("conf/p.toml")
    assert policy.audit.path == tmp_path / "conf" / DEFAULT_AUDIT_PATH
    assert policy.audit.path.is_absolute()
    assert policy.source == "conf/p.toml"


def test_sha256_is_of_the_file_bytes(tmp_path):
    """`load_policy`'s digest is SHA-256 of the file's exact bytes (CRLF and all)."""
    data = 'version = 1\r\n[tags.forced]\r\nteam = "équipe"\r\n'.encode()
    path = tmp_path / "p.toml"
    path.write_bytes(data)
    policy = load_policy(path)
    assert policy.sha256 == hashlib.sha256(data).hexdigest()
    assert policy.tags.forced["team"].text == "équipe"


def test_from_toml_sha256_is_of_the_utf8_text():
    """`Policy.from_toml`'s digest is SHA-256 of the text encoded as UTF-8."""
    text = 'version = 1\n[tags.forced]\nteam = "équipe"\n'
    assert Policy.from_toml(text).sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_policy_changed_from_a_loaded_one_carries_no_digest():
    """The digest names the bytes the loader read: a policy changed from a loaded one
    (``dataclasses.replace``) kept it, and its records named a file that does not say what
    judged them. It carries none, and no constructor takes one."""
    loaded = Policy.from_toml('version = 1\nmode = "enforce"\n')
    assert len(loaded.sha256) == 64
    changed = dataclasses.replace(loaded, mode="warn")
    assert (changed.mode, changed.sha256) == ("warn", "")
    assert Policy().sha256 == ""
    with pytest.raises(TypeError, match="sha256"):
        Policy(sha256=loaded.sha256)  # type: ignore[call-arg]


# --- files that are not policies ------------------------------------------------------------


def test_invalid_toml_is_an_error_with_its_line():
    """What tomllib cannot parse is a PolicyError naming the line."""
    error = policy_error('version = 1\n[tags]\nrequired = ["team",\n  "env"\nmode = 1\n', "p.toml")
    assert error.line == 5
    assert error.path == "p.toml"
    assert error.problem.startswith("invalid TOML: ")
    assert re.match(r"p\.toml:5: invalid TOML: ", str(error))


def test_invalid_toml_at_the_end_of_the_document_names_the_last_line():
    """An error "at end of document" points at the text's last line."""
    error = policy_error("version = 1\nmode =")
    assert error.line == 2
    assert error.problem.startswith("invalid TOML")


@pytest.mark.parametrize(
    ("text", "line", "key", "first"),
    [
        ('version = 1\nmode = "warn"\nmode = "enforce"\n', 3, "mode", 2),
        ("version = 1\n[tags]\n\n[tags]\n", 4, "tags", 2),
        ('version = 1\n[tags.patterns]\n"k" = "a"\n"k" = "b"\n', 4, "tags.patterns.k", 3),
        ('version = 1\nmode = [\n  "a",\n]\nmode = [\n  "b",\n]\n', 5, "mode", 2),
        ("version = 1\nmode = 1\nmode.b = 2\n", 3, "mode", 2),
        ('version = 1\n[naming]\npattern = "s"\npattern.z.y = 1\n', 4, "naming.pattern", 3),
        ("version = 1\nmode = 1\n[mode.b]\n", 3, "mode", 2),
    ],
    ids=[
        "a key",
        "a table",
        "a quoted key in a table",
        "a value of several lines",
        "a value made a table",
        "a value in a table made a table",
        "a value declared a table",
    ],
)
def test_duplicate_key_is_invalid_toml(text, line, key, first):
    """TOML forbids a key twice: a PolicyError, not the first or last value silently, at the
    line where the second starts (tomllib names the value's last, and no key) and naming the
    key and where it was first set. Before, the key was missing (docs/policy.md: every
    problem names file, line and key)."""
    error = policy_error(text)
    assert (error.line, error.key) == (line, key)
    assert error.problem.endswith(f"(first at line {first})")


def test_a_syntax_error_in_a_value_names_its_key():
    """A value tomllib cannot read is named by its key, at the line tomllib names."""
    error = policy_error('version = 1\n[tags]\nrequired = ["team",\n  "owner" "x"]\n')
    assert (error.line, error.key) == (4, "tags.required")
    error = policy_error("version = 1\n[tags\n")
    assert (error.line, error.key) == (2, None)


@pytest.mark.parametrize("text", ["a = " + "[" * 5000, "a = " + "{x = " * 3000])
def test_deeply_nested_toml_is_a_policy_error(text):
    """However deep, what tomllib cannot parse is a PolicyError, never a RecursionError."""
    with pytest.raises(PolicyError, match=r"cannot parse TOML|invalid TOML"):
        Policy.from_toml("version = 1\n" + text)


def test_non_utf8_bytes_are_an_error_with_their_line(tmp_path):
    """A file that is not UTF-8 is a PolicyError naming the line of the first bad byte."""
    path = tmp_path / "p.toml"
    path.write_bytes(b'version = 1\n\n[tags.forced]\nteam = "\xe9quipe"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.line == 4
    assert caught.value.path == str(path)
    assert str(caught.value) == f"{path}:4: not UTF-8 text"


def test_a_directory_is_not_a_policy_file(tmp_path):
    """load_policy on a directory: a PolicyError saying so."""
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    assert caught.value.path == str(tmp_path)
    assert "is a directory" in str(caught.value)


def test_a_path_with_a_nul_byte_is_a_policy_error():
    """A path no file can have (a NUL byte): a PolicyError, not os.open's ValueError."""
    with pytest.raises(PolicyError, match="cannot read policy file: its path holds a NUL byte"):
        load_policy("rds_guard\x00.toml")


def test_a_missing_file_is_a_policy_error(tmp_path):
    """load_policy on a missing file: a PolicyError naming the file and the reason."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(str(missing))
    assert caught.value.path == str(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read policy file: ")
    assert "No such file" in str(caught.value)


def test_a_policys_text_given_as_its_path_is_told_where_text_goes(tmp_path):
    """A path of several lines is most likely the policy itself: the error says what reads
    text; a missing file of one line gets no such guess."""
    with pytest.raises(PolicyError) as caught:
        load_policy('version = 1\nmode = "warn"\n')
    assert str(caught.value).endswith(
        "No such file or directory (a policy's text? rds_guard.Policy.from_toml reads one)"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(str(tmp_path / "version = 1"))
    assert "from_toml" not in str(caught.value)


def test_errors_in_a_file_name_the_file(tmp_path):
    """A semantic error in a loaded file carries the file path and the line."""
    path = tmp_path / "p.toml"
    path.write_text('version = 1\n[tags]\ninherit = "sometimes"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:3: tags.inherit: ")


# --- resolve_policy: where a policy is found ------------------------------------------------


def test_resolve_policy_returns_a_policy_as_given():
    """A `Policy` passes through unchanged."""
    policy = make_policy()
    assert resolve_policy(policy) is policy


def test_resolve_policy_loads_a_path(tmp_path):
    """A path (str or PathLike) is loaded with load_policy."""
    path = tmp_path / "p.toml"
    path.write_text('version = 1\nmode = "warn"\n')
    assert resolve_policy(path).mode == "warn"
    assert resolve_policy(str(path)).source == str(path)


def test_env_var_naming_a_missing_file_is_a_policy_error(tmp_path, monkeypatch):
    """RDS_GUARD_POLICY set but naming no readable file: PolicyError, even if a
    ./rds_guard.toml exists (the environment is not silently ignored)."""
    (tmp_path / "rds_guard.toml").write_text("version = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / "missing.toml"))
    with pytest.raises(PolicyError) as caught:
        resolve_policy(None)
    assert "RDS_GUARD_POLICY" in str(caught.value)
    assert "missing.toml" in str(caught.value)


def test_env_var_naming_a_directory_is_a_policy_error(tmp_path, monkeypatch):
    """RDS_GUARD_POLICY naming a directory is not a readable policy file."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path))
    with pytest.raises(PolicyError, match="RDS_GUARD_POLICY"):
        resolve_policy(None)


@pytest.mark.parametrize("kind", ["directory", "dangling symlink", "fifo"])
def test_a_rds_guard_toml_that_is_no_regular_file_is_reported_not_passed_over(
    tmp_path, monkeypatch, kind
):
    """A ./rds_guard.toml that is there but is no regular file (a mount that failed) is a
    PolicyError saying what it is: never "no policy", never a guard without it."""
    target = tmp_path / "rds_guard.toml"
    if kind == "directory":
        target.mkdir()
        expected = "is a directory"
    elif kind == "fifo":
        os.mkfifo(target)
        expected = "is a FIFO"
    else:
        target.symlink_to(tmp_path / "gone.toml")
        expected = "No such file or directory"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RDS_GUARD_POLICY", raising=False)
    with pytest.raises(PolicyError) as caught:
        resolve_policy(None)
    assert str(caught.value).startswith("rds_guard.toml: ")
    assert expected in str(caught.value)
    assert "no policy given" not in str(caught.value)


def test_env_var_naming_no_file_says_what_it_names(tmp_path, monkeypatch):
    """RDS_GUARD_POLICY naming a directory or nothing says which."""
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path))
    with pytest.raises(PolicyError, match=r"not a readable file \(a directory\)"):
        resolve_policy(None)
    monkeypatch.setenv("RDS_GUARD_POLICY", str(tmp_path / "gone.toml"))
    with pytest.raises(PolicyError, match=r"\(No such file or directory\)"):
        resolve_policy(None)


def test_env_var_wins_over_the_file_in_the_cwd(tmp_path, monkeypatch):
    """RDS_GUARD_POLICY is looked at before ./rds_guard.toml."""
    (tmp_path / "rds_guard.toml").write_text('version = 1\nmode = "enforce"\n')
    named = tmp_path / "other.toml"
    named.write_text('version = 1\nmode = "warn"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RDS_GUARD_POLICY", str(named))
    policy = resolve_policy(None)
    assert policy.mode == "warn"
    assert policy.source == str(named)


def test_rds_guard_toml_in_the_cwd_is_found(tmp_path, monkeypatch):
    """No env var: ./rds_guard.toml is loaded, its audit log next to it."""
    (tmp_path / "rds_guard.toml").write_text('version = 1\nmode = "warn"\n')
    monkeypatch.chdir(tmp_path)
    policy = resolve_policy(None)
    assert policy.mode == "warn"
    assert policy.audit.path == tmp_path / DEFAULT_AUDIT_PATH


def test_nothing_found_says_where_it_looked(tmp_path, monkeypatch):
    """No env var, no ./rds_guard.toml: the message names both places and the cwd."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as caught:
        resolve_policy(None)
    message = str(caught.value)
    assert "RDS_GUARD_POLICY is not set" in message
    assert "rds_guard.toml" in message
    assert str(tmp_path) in message


@pytest.mark.parametrize(
    "generate",
    ["{source}_manual_{utcnow:%Y%m%d}", "{source}-{utcnow:%Y-%m-%dT%H:%M}", "snap shot-{source}"],
)
def test_generate_with_characters_aws_forbids_in_identifiers_is_refused_at_load(
    generate: str,
) -> None:
    """A generate template whose fixed text (literals, {utcnow} formats) breaks AWS's
    identifier rules fails at load, naming the key, not at every call."""
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(f'version = 1\n[naming]\ngenerate = "{generate}"\n', source="p.toml")
    assert (caught.value.key, caught.value.line) == ("naming.generate", 3)
    assert "ASCII letters, digits and hyphens" in str(caught.value)


def test_generate_with_allowed_characters_loads() -> None:
    """The usual templates load: literals, {source}, {region}, {utcnow} in any digit format."""
    for generate in (
        "{source}-manual-{utcnow:%Y%m%d}",
        "{source}-{utcnow}",
        "dr-{region}-{source}",
    ):
        policy = Policy.from_toml(f'version = 1\n[naming]\ngenerate = "{generate}"\n')
        assert policy.naming.generate is not None


@pytest.mark.parametrize("name", ["", " ", "RDS GUARD KEY", "1KEY", "KEY-1", "KEY=x"])
def test_an_hmac_key_env_that_names_no_variable_is_a_policy_error(name: str) -> None:
    """A blank or malformed variable name would load and then fail every install: refused
    at load, on its line."""
    error = body_error(f'[audit]\nhmac_key_env = "{name}"\n')
    assert (error.key, error.line) == ("audit.hmac_key_env", 3)
    assert "must name an environment variable" in error.problem


def test_an_hmac_key_env_naming_a_variable_loads() -> None:
    """Letters, digits and underscores, not starting with a digit: any case."""
    assert make_policy('[audit]\nhmac_key_env = "_chain_Key2"\n').audit.hmac_key_env == (
        "_chain_Key2"
    )


def test_an_empty_audit_path_is_a_policy_error() -> None:
    """An empty audit path would resolve to the policy's folder: refused at load."""
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml('version = 1\n[audit]\npath = ""\n', source="p.toml")
    assert caught.value.key == "audit.path" and caught.value.line == 3
