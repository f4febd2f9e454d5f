"""The package's public names: each is where the README says, loaded when first asked for."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from audit_helpers import REPO, printed_by, run_python
from aws import audit_records
from policies import AUDITED, write_policy
from servers import MotoServer

import rds_guard
from rds_guard.core.decide import evaluate
from rds_guard.errors import PolicyViolation
from rds_guard.guard import install


def test_every_public_name_resolves_to_its_home() -> None:
    for name in rds_guard.__all__:
        assert getattr(rds_guard, name) is not None
        assert name in dir(rds_guard)
    assert (rds_guard.install, rds_guard.evaluate, rds_guard.PolicyViolation) == (
        install,
        evaluate,
        PolicyViolation,
    )


def test_a_package_dropped_from_sys_modules_still_lists_its_names() -> None:
    """A runner that drops the package from ``sys.modules`` (pytest's pytester) leaves the old
    module objects in use: ``dir()`` of each lists that module's own names and its lazy ones."""
    code = (
        "import sys, rds_guard, rds_guard.audit, rds_guard.guard\n"
        "old = [rds_guard, rds_guard.audit, rds_guard.guard]\n"
        "for name in [m for m in sys.modules if m.startswith('rds_guard')]:\n"
        "    del sys.modules[name]\n"
        "print(['install' in dir(old[0]), 'verify' in dir(old[1]), 'Guard' in dir(old[2]),\n"
        "       '_HOMES' in dir(old[0])])\n"
    )
    printed = printed_by(code)
    assert printed[0] == "[True, True, True, True]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'instal'"):
        rds_guard.instal  # noqa: B018


def test_the_guard_package_s_names_resolve_to_their_homes() -> None:
    import rds_guard.guard as glue

    for name in glue.__all__:
        assert getattr(glue, name) is not None
        assert name in dir(glue)
    assert glue.install is install
    with pytest.raises(AttributeError, match=r"'rds_guard\.guard' has no attribute 'Stack'"):
        glue.Stack  # noqa: B018


def test_the_guard_s_hooks_import_nothing_more() -> None:
    """What the AWS CLI plugin's stand-ins cost every rds command: `hooks`, the method
    wrappers it puts on a client and the folding of names it reads with (a module of no
    imports), not even the operations table."""
    code = (
        "import sys, rds_guard.guard.hooks\n"
        "print(sorted(m for m in sys.modules if m.startswith('rds_guard')))\n"
    )
    printed = printed_by(code)
    assert printed[0] == (
        "['rds_guard', 'rds_guard.core', 'rds_guard.core.folding', 'rds_guard.forks',"
        " 'rds_guard.guard', 'rds_guard.guard.hooks', 'rds_guard.guard.wrappers']"
    )


def test_importing_the_package_alone_loads_no_guard() -> None:
    code = (
        "import sys, rds_guard\n"
        "print(sorted(m for m in sys.modules if m.startswith('rds_guard')))\n"
        "from rds_guard import install\n"
        "print('rds_guard.guard' in sys.modules)\n"
    )
    printed = printed_by(code)
    # forks: the process a later fork is told from is the one that imported the package
    assert printed == ["['rds_guard', 'rds_guard.forks']", "True"]


@pytest.mark.parametrize(
    ("package", "home", "name"),
    [
        ("rds_guard", "rds_guard.errors", "PolicyViolation"),
        ("rds_guard.audit", "rds_guard.audit.findings", "Finding"),
        ("rds_guard.guard", "rds_guard.guard.reads", "LookupFailed"),
    ],
)
def test_a_name_follows_its_module_when_the_module_is_imported_afresh(
    package: str, home: str, name: str
) -> None:
    """A runner that drops a package's submodules and imports them again (pytest's
    in-process pytester does) gets the class the package's code now uses, not the old one."""
    code = (
        f"import importlib, sys\n"
        f"package = importlib.import_module({package!r})\n"
        f"before = package.{name}\n"
        f"for module in [m for m in sys.modules if m.startswith({home!r})]:\n"
        "    del sys.modules[module]\n"
        f"now = importlib.import_module({home!r}).{name}\n"
        f"print(before is now, package.{name} is now)\n"
    )
    printed = printed_by(code)
    assert printed[0].split() == ["False", "True"]


def test_a_guarded_call_imports_no_tool_and_no_message_module(tmp_path: Path) -> None:
    """What a service pays for: loading a good policy, installing it and making a guarded
    call import neither the command line, reconcile, verify and the ledger, nor what only a
    message about a bad policy reads (`key_scan`, difflib); a bad policy's message does."""
    policy = tmp_path / "rds_guard.toml"
    policy.write_text(
        'version = 1\nmode = "warn"\n[naming]\npattern = "^[a-z]+-[0-9]+$"\n'
        '[tags]\nrequired = ["team"]\n[audit]\nenabled = false\n'
    )
    code = (
        "import sys\n"
        "import botocore.session\n"
        "import rds_guard\n"
        "session = botocore.session.Session()\n"
        f"guard = rds_guard.install(session, policy={str(policy)!r})\n"
        "client = session.create_client('rds', region_name='us-east-1',"
        " aws_access_key_id='k', aws_secret_access_key='s')\n"
        "params = {'DBClusterIdentifier': 'orders', 'DBClusterSnapshotIdentifier': 'orders-1'}\n"
        "client.meta.events.register('before-send', lambda **_: __import__('botocore')"
        ".awsrequest.AWSResponse('', 500, {}, None))\n"
        "try:\n"
        "    client.create_db_cluster_snapshot(**params)\n"
        "except Exception:\n"
        "    pass\n"
        "slow = ('rds_guard.cli', 'rds_guard.reconcile', 'rds_guard.audit.verify',"
        " 'rds_guard.audit.ledger', 'rds_guard.core.key_scan', 'difflib')\n"
        "print(sorted(m for m in sys.modules if m.startswith(slow)))\n"
        "try:\n"
        "    rds_guard.Policy.from_toml('version = 1\\n[naming]\\npatern = \"x\"\\n')\n"
        "except rds_guard.PolicyError as error:\n"
        "    print(error.line, 'rds_guard.core.key_scan' in sys.modules)\n"
    )
    assert printed_by(code) == ["[]", "3 True"]


_LOADED_WHEN_NEEDED = """\
import os, sys
import boto3
from moto import mock_aws
import rds_guard
os.chdir(sys.argv[1])
open("rds_guard.toml", "w").write(
    'version = 1\\n[tags]\\nrequired = ["team"]\\n[deletion]\\nminimum_age_days = 7\\n'
    '[audit]\\npath = "audit.jsonl"\\n'
)
later = ("rds_guard.aws", "rds_guard.audit.redact", "rds_guard.core.access",
         "rds_guard.core.deletion")
def loaded():
    print(sorted(m for m in sys.modules if m in later))
with mock_aws():
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="k",
                            aws_secret_access_key="s")
    rds = session.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="orders", Engine="aurora-postgresql",
                          MasterUsername="admin", MasterUserPassword="password-1")
    rds_guard.install(session, policy="rds_guard.toml")
    guarded = session.client("rds")
    guarded.create_db_cluster_snapshot(DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier="orders-1", Tags=[{"Key": "team", "Value": "data"}])
    loaded()
    try:
        guarded.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-1")
    except rds_guard.PolicyViolation as violation:
        print([v.rule for v in violation.violations])
    loaded()
"""


def test_the_judges_and_reads_a_call_does_not_need_are_loaded_when_one_does(
    tmp_path: Path,
) -> None:
    """A guarded create that needs no read (the caller gives the tags) loads neither the
    reads (`rds_guard.aws`), nor the redaction of an error's text, nor the judges of deletes,
    sharing and exports; the first delete loads its judge and the read of the snapshot (with
    the redaction the reads use), and is judged by them (too young to delete)."""
    printed = printed_by(_LOADED_WHEN_NEEDED.replace("sys.argv[1]", repr(str(tmp_path))))
    assert printed == [
        "[]",
        "['deletion.too_young']",
        "['rds_guard.audit.redact', 'rds_guard.aws', 'rds_guard.core.deletion']",
    ]


def test_a_guarded_call_in_plain_text_compiles_no_pattern_it_does_not_use() -> None:
    """`Lazy` keeps its promise on the guard's own path: importing the guard, loading a policy
    with no regular expression (a ``{utcnow:...}`` default tag) and judging a call, every text
    ASCII, compiles of rds_guard's patterns for other paths only the one for ``{utcnow:...}``
    (none for a policy's own syntax, a ledger's names, ``{env:...}``) and loads no
    ``unicodedata``; a first text that is not ASCII loads it."""
    printed = printed_by(_LAZY_PATTERNS)
    assert int(printed[0]) >= 20, printed  # regex_syntax, policy, templates, redact, operations...
    assert printed[1:] == ["True", "False", "True"]


_LAZY_PATTERNS = """\
import re, sys
compiled = []
real = re.compile
def spy(source, flags=0):
    compiled.append(source)
    return real(source, flags)
re.compile = spy
from rds_guard import install, evaluate
from rds_guard.core import templates
from rds_guard.core.patterns import Lazy
from rds_guard.core.policy import Policy
policy = Policy.from_toml(
    'version = 1\\n[tags]\\nrequired = ["team"]\\n[tags.defaults]\\nenv = "dev"\\n'
    'created = "{utcnow:%Y-%m-%d}"',
    "<string>",
)
params = {"DBClusterSnapshotIdentifier": "orders-1", "DBClusterIdentifier": "orders"}
tags = [{"Key": "team", "Value": "data"}]
assert evaluate(policy, "CreateDBClusterSnapshot", {**params, "Tags": tags}).allowed
seen = set(compiled)
values = [
    value
    for name, module in list(sys.modules.items())
    if name.startswith("rds_guard")
    for value in vars(module).values()
]
lazy = [value for value in values if isinstance(value, Lazy)]
lazy += [
    value
    for table in values
    if isinstance(table, dict)
    for value in table.values()
    if isinstance(value, Lazy)
]
sources = {pattern.compiled.pattern for pattern in lazy}
print(len(sources))
# the one a {utcnow:...} template uses, and no other
print(sorted(sources & seen) == [templates._DIRECTIVE.compiled.pattern])
print("unicodedata" in sys.modules)
tags = [{"Key": "team", "Value": "donn\\u00e9es"}]
evaluate(policy, "CreateDBClusterSnapshot", {**params, "Tags": tags})
print("unicodedata" in sys.modules)
"""


_WITHOUT_BOTO3 = """
import json, sys
sys.modules["boto3"] = None  # as where boto3 is not installed: its import fails
import botocore.session
import rds_guard

session = botocore.session.Session()
guard = rds_guard.install(session, policy=sys.argv[1])
rds = session.create_client(
    "rds", region_name="us-east-1", endpoint_url=sys.argv[2],
    aws_access_key_id="testing", aws_secret_access_key="testing",
)
rds.create_db_cluster(
    DBClusterIdentifier="orders", Engine="aurora-postgresql",
    MasterUsername="admin", MasterUserPassword="not-a-real-password",
)
team = [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]
blocked = None
try:
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2", Tags=team
    )
except rds_guard.PolicyViolation as exc:
    blocked = [v.rule for v in exc.violations]
made = rds.create_db_cluster_snapshot(
    DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-manual-20261129", Tags=team
)
print(json.dumps({
    "blocked": blocked,
    "made": made["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"],
    "boto3": sorted(n for n, m in sys.modules.items() if m and n.split(".")[0] == "boto3"),
}))
"""


def test_the_guard_judges_and_records_calls_where_boto3_cannot_be_imported(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """README: boto3 is optional. In a process where ``import boto3`` fails, a botocore
    session is guarded: the non-compliant call is blocked unsent, the compliant one is sent,
    both recorded."""
    policy = write_policy(tmp_path, AUDITED)
    result = run_python(_WITHOUT_BOTO3, str(policy), moto_server.url, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "blocked": ["identifier.pattern"],
        "made": "orders-manual-20261129",
        "boto3": [],
    }
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    events = [(r["event"], r["snapshot"]) for r in audit_records(tmp_path)]
    assert events == [
        ("blocked", "test2"),
        ("requested", "orders-manual-20261129"),
        ("created", "orders-manual-20261129"),
    ]


def test_the_published_dependencies_are_botocore_and_re2_and_boto3_is_an_extra() -> None:
    """README: runtime dependencies botocore and google-re2; boto3 optional."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    named = [
        re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        for requirement in project["dependencies"]
    ]
    assert sorted(named) == ["botocore", "google-re2"]
    assert [r.split(">")[0] for r in project["optional-dependencies"]["boto3"]] == ["boto3"]
