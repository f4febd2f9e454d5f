"""The second release's policy tables: [export], [deletion], [audit] lock_timeout and
[audit.ledger]; templates that would leak credentials or the audit key; services that leave
one out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from core_fixtures import body_error, make_policy

from rds_guard import Policy, PolicyError
from rds_guard.core.rules import Wildcard


def test_the_new_tables_have_their_defaults() -> None:
    policy = make_policy()
    assert (policy.export.enabled, policy.export.s3_buckets) == (True, None)
    deletion = policy.deletion
    assert (deletion.final_snapshot, deletion.automated_backups) == ("optional", "any")
    assert (deletion.minimum_age_days, dict(deletion.hold_tags)) == (None, {})
    assert (policy.audit.lock_timeout, policy.audit.ledger) == (10.0, None)


def test_every_new_key_is_read() -> None:
    policy = make_policy(
        """
        [export]
        enabled = false
        s3_buckets = ["acme-backups-*", "exact.bucket"]
        [deletion]
        final_snapshot = "required"
        automated_backups = "keep"
        minimum_age_days = 7
        [deletion.hold_tags]
        legal-hold = "true"
        [audit]
        lock_timeout = 2.5
        [audit.ledger]
        table = "rds-guard-audit"
        region = "eu-west-1"
        mode = "required"
        checkpoints = "s3://audit-bucket/rds-guard/"
        kms_key = "alias/rds-guard-checkpoints"
        """
    )
    assert policy.export.enabled is False
    assert policy.export.s3_buckets == (Wildcard("acme-backups-*"), Wildcard("exact.bucket"))
    assert policy.deletion.final_snapshot == "required"
    assert policy.deletion.automated_backups == "keep"
    assert policy.deletion.minimum_age_days == 7.0
    assert dict(policy.deletion.hold_tags) == {"legal-hold": "true"}
    assert policy.audit.lock_timeout == 2.5
    ledger = policy.audit.ledger
    assert ledger is not None
    assert (ledger.table, ledger.region, ledger.mode) == (
        "rds-guard-audit",
        "eu-west-1",
        "required",
    )
    assert ledger.checkpoints == "s3://audit-bucket/rds-guard/"
    assert ledger.kms_key == "alias/rds-guard-checkpoints"


FIFTY_ONE = "".join(f'k{i} = "v"\n' for i in range(51))


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('[export]\ns3_buckets = ["Upper"]\n', "export.s3_buckets[0]", "not an S3 bucket name"),
        # S3's own rules on a name without '*' (each loaded, and blocked every export to it)
        ('[export]\ns3_buckets = ["ab"]\n', "export.s3_buckets[0]", "not an S3 bucket name"),
        ('[export]\ns3_buckets = ["logs", ".x.y"]\n', "export.s3_buckets[1]", "3 to 63"),
        ('[export]\ns3_buckets = ["a..b"]\n', "export.s3_buckets[0]", "no '..'"),
        ('[export]\ns3_buckets = ["logs-"]\n', "export.s3_buckets[0]", "at each end"),
        (
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://a..b/x"\nkms_key = "alias/k"\n',
            "audit.ledger.checkpoints",
            "in 's3://a..b/x', 'a..b' is not an S3 bucket name (3 to 63",
        ),
        (  # an S3 location all the same: what is wrong is the bucket's name
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://ab/p/"\nkms_key = "alias/k"\n',
            "audit.ledger.checkpoints",
            "'ab' is not an S3 bucket name (3 to 63",
        ),
        ('services = ["rds", "docdb", "rds"]\n', "services[2]", "again (first at services[0])"),
        ('[export]\nenabled = "no"\n', "export.enabled", "true or false"),
        ('[deletion]\nfinal_snapshot = "yes"\n', "deletion.final_snapshot", '"optional" or'),
        # as TOML writes the value, not Python's True
        ("[deletion]\nfinal_snapshot = true\n", "deletion.final_snapshot", '"required", not true'),
        # a character without a Unicode name is said to be what it is
        (
            '[tags.defaults]\nnote = """\nx\n"""\n',
            "tags.defaults.note",
            "not U+000A (a control character)",
        ),
        ('[deletion]\nautomated_backups = "never"\n', "deletion.automated_backups", '"keep"'),
        ("[deletion]\nminimum_age_days = -1\n", "deletion.minimum_age_days", "from 0"),
        ("[deletion]\nminimum_age_days = true\n", "deletion.minimum_age_days", "a number"),
        ('[deletion.hold_tags]\n"aws:hold" = "x"\n', "deletion.hold_tags.aws:hold", "reserved"),
        ("[deletion]\nkeep_forever = true\n", "deletion.keep_forever", "unknown key"),
        ("[audit]\nlock_timeout = 0\n", "audit.lock_timeout", "must be from"),
        ('[audit]\nlock_timeout = "10"\n', "audit.lock_timeout", "a number"),
        ("[audit.ledger]\nregion = 'us-east-1'\n", "audit.ledger", "missing key 'table'"),
        ('[audit.ledger]\ntable = "a b"\n', "audit.ledger.table", "not a DynamoDB table"),
        (  # botocore refuses it at the first call: "cannot reach the ledger" said otherwise
            '[audit.ledger]\ntable = "tbl"\nregion = "eu west 1"\n',
            "audit.ledger.region",
            "'eu west 1' is not a region's name",
        ),
        ('[audit.ledger]\ntable = "tbl"\nmode = "async"\n', "audit.ledger.mode", '"ship"'),
        (
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "bucket/x"\nkms_key = "k"\n',
            "audit.ledger.checkpoints",
            "not an S3 location",
        ),
        (  # a bucket the ledger's commands would refuse is refused when the policy loads
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://b1/x"\nkms_key = "k"\n',
            "audit.ledger.checkpoints",
            "not an S3 bucket name",
        ),
        (
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://bk1/x"\n',
            "audit.ledger.kms_key",
            "go together",
        ),
        # values no checkpoint could be written with: refused at load, not at the first one
        (
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://bk1/\\u001b[31m"\nkms_key = "k"\n',
            "audit.ledger.checkpoints",
            "not an S3 location",
        ),
        (
            '[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://bk1/"\nkms_key = "alias/\\u0000"\n',
            "audit.ledger.kms_key",
            "names no KMS key",
        ),
        (
            f'[audit.ledger]\ntable = "tbl"\ncheckpoints = "s3://bk1/"\nkms_key = "{"k" * 2049}"\n',
            "audit.ledger.kms_key",
            "1 to 2048",
        ),
        # a policy no call could comply with
        ("[tags.forced]\n" + FIFTY_ONE, "tags.forced", "AWS allows at most 50"),
        (
            "[tags]\nrequired = [" + ", ".join(f'"r{i}"' for i in range(51)) + "]\n",
            "tags.required",
            "name 51 keys",
        ),
        (  # together: 30 required and 21 forced keys
            "[tags]\nrequired = [" + ", ".join(f'"k{i}"' for i in range(30)) + "]\n"
            "[tags.forced]\n" + "".join(f'f{i} = "v"\n' for i in range(21)),
            "tags.required",
            "name 51 keys",
        ),
        # every snapshot gets its defaults too (the caller's value or the policy's)
        ("[tags.defaults]\n" + FIFTY_ONE, "tags.defaults", "name 51 keys"),
        (  # 30 required and 25 defaults: the largest table is blamed
            "[tags]\nrequired = [" + ", ".join(f'"k{i}"' for i in range(30)) + "]\n"
            "[tags.defaults]\n" + "".join(f'd{i} = "v"\n' for i in range(25)),
            "tags.required",
            "name 55 keys",
        ),
        ("[tags.allowed]\nenv = []\n", "tags.allowed.env", "lists no value"),
        ('[tags.patterns]\n"" = "a"\n', 'tags.patterns.""', "1 to 128 characters"),
        ('[tags.patterns]\nenv = "a{2147483647}"\n', "tags.patterns.env", "at most 1000"),
        ('[naming]\npattern = "^{source}-a{99999999999999999999}$"\n', "naming.pattern", "1000"),
    ],
)
def test_a_bad_value_in_a_new_table_names_its_key(body: str, key: str, words: str) -> None:
    error = body_error(body)
    assert error.key == key
    assert words in error.problem
    assert error.line is not None


@pytest.mark.parametrize(
    "variable",
    [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "DB_PASSWORD",
        "my_private_key",
        "GITHUB_TOKEN",
        "CLIENT_SECRET_2",
        "DB_PASSWD",
        "GPG_PASSPHRASE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "MYSQL_PWD",
        "DB_PASS",
        "STRIPE_API_KEY",
        "DB_PASS1",
        "STRIPE_KEY2",
        "apiKey",
        "dbPwd",
        "KEY",
        "API_KEY_1",
        "DB_PASS_PROD",
        "STRIPE_KEY_LIVE",
        "OPENAI_API_KEY_V2",
        "KEY_",
        "APIKey",
        "openAIKey",
        "MyDBPwd",
        "dbPASS",
        "API_KEYS",
        "apiKeys",
        "DB_PASS_1_PROD",
        "MYSQL_PWD_1",
        "AWS_ACCESS_KEY_ID",
        "MY_AWS_ACCESS_KEY_ID",
        "SENTRY_DSN",
        "GITHUB_APIKEY",
        "APIKEY",
        "SESSION_JWT",
        "authCookie",
        "BEARER",
    ],
)
@pytest.mark.parametrize("table", ["tags.forced", "tags.defaults"])
def test_a_template_naming_a_credential_variable_is_refused(table: str, variable: str) -> None:
    error = body_error(f'[{table}]\nci = "x-{{env:{variable}}}"\n')
    assert error.key == f"{table}.ci"
    assert "credential" in error.problem and variable in error.problem


@pytest.mark.parametrize(
    "variable",
    [
        "KEYSTONE_REGION",
        "PASSAGE",
        "MONKEY",
        "TEAM",
        "PWDX",
        "KMS_KEY_ID",
        "SSH_KEY_NAME",
        "KEY_ARN",
        "kmsKeyId",
        "Keystone",
        "monkey",
        "KEY_PAIR_NAME",
        "S3_KEY_PREFIX",
        "PUBLIC_KEY",
        "PARTITION_KEY",
        "KMS_KEY",
        "PASS_THROUGH",
        "PWD",
        "KEY_2_ID",
    ],
)
def test_a_name_only_looking_like_a_credential_word_loads(variable: str) -> None:
    """The words KEY, PASS and PWD refuse a name only as words of it (between ``_``, or in
    camel case; digits aside), and not where a word beside it says the name is about a key
    rather than one: other names holding their letters load."""
    policy = Policy.from_toml(f'version = 1\n[tags.defaults]\nx = "{{env:{variable}}}"\n')
    assert policy.tags.defaults["x"].env_names == (variable,)


@pytest.mark.parametrize("table", ["naming", "naming.operations.CopyDBSnapshot"])
def test_generate_naming_a_credential_variable_is_refused(table: str) -> None:
    error = body_error(f'[{table}]\ngenerate = "{{env:AWS_SESSION_TOKEN}}"\n')
    assert error.key == f"{table}.generate"


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("tags.defaults", "ci"),
        ("tags.forced", "ci"),
        ("naming", "generate"),
        ("naming.operations.CopyDBSnapshot", "generate"),
    ],
)
def test_a_template_reading_the_audit_key_variable_is_refused(table: str, name: str) -> None:
    """The variable ``audit.hmac_key_env`` names holds the audit chain's key, whatever it is
    called: written into tags and the log, it would let anyone who reads them forge the chain."""
    error = body_error(
        f'[{table}]\n{name} = "x-{{env:CHAIN_SEAL}}"\n[audit]\nhmac_key_env = "CHAIN_SEAL"\n'
    )
    assert (error.key, error.line) == (f"{table}.{name}", 3)
    assert "{env:CHAIN_SEAL}" in error.problem and "hmac_key_env" in error.problem


def test_a_template_may_read_a_variable_that_is_not_the_audit_key() -> None:
    policy = make_policy(
        '[tags.defaults]\nci = "{env:CHAIN_SEAL_ID}"\n[audit]\nhmac_key_env = "CHAIN_SEAL"\n'
    )
    assert policy.tags.defaults["ci"].env_names == ("CHAIN_SEAL_ID",)


def test_an_ordinary_variable_is_fine() -> None:
    policy = make_policy('[tags.defaults]\nowner = "{env:APP_OWNER}"\n')
    assert policy.tags.defaults["owner"].env_names == ("APP_OWNER",)


def test_services_leaving_one_out_loads_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        policy = make_policy('services = ["rds", "neptune"]\n', source="p.toml")
    assert policy.services == frozenset({"rds", "neptune"})
    [warning] = [r for r in caplog.records if r.name == "rds_guard"]
    assert warning.levelno == logging.WARNING
    assert "p.toml:2" in warning.getMessage()
    assert "docdb" in warning.getMessage() and "judges all the same" in warning.getMessage()


def test_all_three_services_load_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rds_guard"):
        make_policy('services = ["neptune", "docdb", "rds"]\n')
        make_policy()
    assert not [r for r in caplog.records if r.name == "rds_guard"]


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("acme-*", ["acme-", "acme-backups"], ["acm", "xacme-1"]),
        ("*-backups-*", ["a-backups-b", "-backups-"], ["backups", "a-backup-b"]),
        ("a*b*c", ["abc", "a-b-c", "abbbc"], ["ab", "acb", "abcx"]),
        ("exact", ["exact"], ["exact1", "exac"]),
        ("*", ["", "anything"], []),
    ],
)
def test_a_wildcard_matches_whole_names(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    wildcard = Wildcard(pattern)
    assert all(wildcard.matches(name) for name in matches)
    assert not any(wildcard.matches(name) for name in misses)


def test_fifty_tags_required_and_forced_in_all_load() -> None:
    body_ok = "[tags]\nrequired = [" + ", ".join(f'"k{i}"' for i in range(50)) + "]\n"
    assert len(make_policy(body_ok).tags.required) == 50


def test_a_byte_order_mark_and_a_path_as_source_are_policy_errors() -> None:
    import pathlib

    with pytest.raises(PolicyError, match=r"^p\.toml:1: starts with a byte order mark"):
        Policy.from_toml("\ufeffversion = 1\n", source="p.toml")
    with pytest.raises(PolicyError, match=r"^p\.toml:1: version: unsupported version 2"):
        Policy.from_toml("version = 2\n", source=pathlib.Path("p.toml"))  # type: ignore[arg-type]
    # an empty name would leave the message without file and line; another type is no name
    with pytest.raises(PolicyError, match=r"^<string>:2: x: unknown key"):
        Policy.from_toml("version = 1\nx = 1\n", source="")
    with pytest.raises(TypeError, match="source must be a str naming the text, not int"):
        Policy.from_toml("version = 1\n", source=5)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match=r"^p\.toml:2: x: cannot parse TOML: .* nest too deeply"):
        Policy.from_toml("version = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n", source="p.toml")
    deep = "version = 1\n[tags]\n# a comment [[[\nrequired = ['[[[', "
    deep += "{a = " * 3000 + "1" + "}" * 3000
    with pytest.raises(PolicyError, match=r"^p\.toml:4: tags\.required: cannot parse TOML"):
        Policy.from_toml(deep + "]\n", source="p.toml")


@pytest.mark.parametrize("spelling", ["%s", "%-s", "%Y-%s", "%%%s", "%10s", "%_10s", "%010s"])
def test_a_utcnow_format_of_local_epoch_seconds_is_refused(spelling: str) -> None:
    """glibc's ``%s`` formats the machine's local time, whatever the datetime's zone: a tag
    of ``{utcnow:%s}`` differed by hours from host to host (TZ), none of them UTC's."""
    error = body_error(f'[tags.forced]\nepoch = "{{utcnow:{spelling}}}"\n')
    assert error.key == "tags.forced.epoch"
    assert "local time, not of UTC" in error.problem


@pytest.mark.parametrize(
    "spelling",
    ["%b", "%B", "%a", "%A", "%h", "%p", "%P", "%c", "%x", "%X", "%r", "%^b", "%10B", "%Ey", "%Od"],
)
@pytest.mark.parametrize("table", ["naming", "tags.defaults"])
def test_a_utcnow_format_in_the_locales_language_is_refused(spelling: str, table: str) -> None:
    """A month's or a day's name, AM/PM and the locale's own layouts are written in the
    language of the process's locale: checked at load in one (``Jan``, ``May``), rendered in a
    program that sets its own (``Mär`` in March under de_DE) as a name AWS refuses."""
    key = "generate" if table == "naming" else "owner"
    error = body_error(f'[{table}]\n{key} = "s-{{utcnow:%Y-{spelling}}}"\n')
    assert error.key == f"{table}.{key}"
    assert f"{spelling} is written in the language of the process's locale" in error.problem


@pytest.mark.parametrize("spelling", ["%Y%m%d", "%-m%-d", "%H%M%S", "%j", "%Z", "%F"])
def test_a_utcnow_format_in_numbers_loads(spelling: str) -> None:
    policy = Policy.from_toml(f'version = 1\n[tags.defaults]\nwhen = "{{utcnow:{spelling}}}"\n')
    assert policy.tags.defaults["when"].fixed_text(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("spelling", "said"),
    [
        ("%Y\\u0000%m-%d", "a NUL character ends a strftime format"),
        ("\\u0000", "a NUL character ends a strftime format"),
        ("%100000Y", "%100000Y is wider than any snapshot name or tag value"),
        ("%257d", "%257d is wider than any snapshot name or tag value"),
        ("%Y-%_99999999999999999999m", "%_99999999999999999999m is wider"),
        ("%" + "9" * 4000 + "Y", "is wider"),  # thousands of digits: never made an int
        ("%" + "9" * 5000 + "Y", "is not read"),  # more than Python reads: a template too long
    ],
)
@pytest.mark.parametrize("table", ["naming", "tags.defaults"])
def test_a_utcnow_format_the_c_library_cuts_short_is_refused(
    spelling: str, said: str, table: str
) -> None:
    """``strftime`` stops at a NUL (``%Y\\0%m-%d`` rendered ``2026``) and gives no text for a
    width it cannot pad to (``%100000Y``: a snapshot named ``s``, a tag value left empty),
    which the checks on the rendered text could not tell from a short format."""
    key = "generate" if table == "naming" else "owner"
    error = body_error(f'[{table}]\n{key} = "s{{utcnow:{spelling}}}"\n')
    assert error.key == f"{table}.{key}"
    assert said in error.problem


@pytest.mark.parametrize(
    ("line", "said", "column"),
    [
        ('x   =   "a-{utcnow:%Q}"', "{utcnow:%Q}: %Q is no strftime directive", 12),
        ('x = "a-{utcnow:%Y%}"', "% at its end starts no directive", 8),
        ('x = "ab}"', "single '}' at offset 2", 8),
        ('x = "\\u00e9-{sorce}"', "unknown placeholder {sorce}", 13),  # an escape: 6 characters
    ],
)
def test_a_template_that_cannot_be_parsed_is_refused_at_its_column(
    line: str, said: str, column: int
) -> None:
    """docs/policy.md: a template that cannot be used is refused at its line and column,
    the column of its problem in the file (a strftime directive glibc does not know, which it
    would write as it stands, was reported as the '%' AWS refuses in the rendered text)."""
    error = body_error(f"[tags.forced]\n{line}\n")
    assert error.key == "tags.forced.x"
    assert said in error.problem
    assert error.problem.endswith(f"(column {column})")


def test_a_utcnow_directive_padded_within_the_limits_loads() -> None:
    policy = Policy.from_toml('version = 1\n[tags.defaults]\nowner = "{utcnow:%20Y}"\n')
    assert len(policy.tags.defaults["owner"].fixed_text(datetime(2026, 12, 1, tzinfo=UTC))) == 20


def test_a_literal_percent_s_is_text_and_a_character_both_dates_render_is_said_once() -> None:
    """``%%s`` is the text ``%s``, no directive; its ``%``, which AWS refuses in a tag, was
    reported twice, once for each sample date."""
    error = body_error('[tags.forced]\nepoch = "{utcnow:%%s}"\n')
    assert error.key == "tags.forced.epoch"
    assert error.problem == "value may not hold '%' (AWS tag rules)"


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        pytest.param(
            'version = 1\n[tags]\nrequired = [\n  "a",\n  "b",\n  "a#",\n]\n',
            "tags.required[2]",
            6,
            id="one-a-line",
        ),
        pytest.param(
            'version = 1\n[tags]\nrequired = ["a", "b", "a#"]\n',
            "tags.required[2]",
            3,
            id="one-line",
        ),
        pytest.param(
            'version = 1\n[tags]\nrequired = [ # a comma, ]\n  "a", # x\n\n  "b",\n  3,\n]\n',
            "tags.required[2]",
            7,
            id="comments-and-blank-lines",
        ),
        pytest.param(
            'version = 1\n[sharing]\naccounts = [\n  "123456789012",\n  [1, 2],\n  "x"\n]\n',
            "sharing.accounts[1]",
            5,
            id="a-nested-array",
        ),
        pytest.param(
            'version = 1\n[tags]\nrequired = [\n  """a\nb""",\n  "ok",\n]\n',
            "tags.required[0]",
            4,
            id="a-multiline-string",
        ),
    ],
)
def test_an_arrays_bad_element_is_named_at_its_own_line(text: str, key: str, line: int) -> None:
    """An array written over several lines: the error named the line the array starts on."""
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(text)
    assert (caught.value.key, caught.value.line) == (key, line)
