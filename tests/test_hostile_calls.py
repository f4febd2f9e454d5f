"""Hostile calls through a real guarded client (in-process moto, and moto over HTTP counting
requests at the server): parameters of the wrong type, missing keys, megabyte-long values,
NUL bytes, lone surrogates, bidi controls, zero-width joiners, combining marks and other
Unicode oddities in identifiers and tags, and the same values through `evaluate()` directly.

What must hold: in enforce mode each call ends in `rds_guard.PolicyViolation` or botocore's
`ParamValidationError` (the former is a subclass of the latter), quickly, and the guarded
operation is never sent; in warn mode the guard itself never raises (whatever fails, fails in
botocore or the service, as it would without the guard); and the audit log keeps one valid,
chained line per record. Timeouts only detect hangs; they are no performance assertions.

Then hostile callers: every door of docs/operations.md through every client that has it (the
three APIs are one endpoint, so the client is the caller's choice), another handler on the
client rewriting the request, another way to presign, and one client reached by every kind
of install at once.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import botocore.signers
import pytest
from aws import (
    SentCounter,
    count_sent,
    guarded_client,
    guarded_session,
    make_cluster,
    make_instance,
    snapshot_tags,
)
from botocore import xform_name
from botocore.exceptions import ParamValidationError
from cluster_groups import GROUP_OPERATIONS, ClusterGroupResponder, has_cluster_groups
from policies import DEFAULTS_ONLY, RULE_OF_EACH_KIND, write_policy
from servers import MotoServer, query_answer

import rds_guard
from rds_guard import audit
from rds_guard.core import operations

HANG_TIMEOUT = 60.0
"""Seconds after which a call is taken to hang: a hang detector, never a speed requirement."""

RULE_IDS = frozenset(
    {
        "identifier.missing",
        "identifier.aws",
        "identifier.pattern",
        "tags.aws",
        "tags.duplicate",
        "tags.required",
        "tags.allowed",
        "tags.pattern",
        "tags.forced",
        "tags.protected",
        "tags.inherit",
        "template.env",
        "sharing.public",
        "sharing.account",
        "export.bucket",
        "export.disabled",
        "deletion.final_snapshot",
        "deletion.automated_backups",
        "deletion.too_young",
        "deletion.hold",
        "request.changed",
        "request.invalid",
    }
)

ACCOUNT = "123456789012"
BASE = "orders-manual-20261128"
SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:{BASE}"
GOOD = "orders-manual-20261129"
COPY = f"{BASE}-manual-20261130"
GROUP_RESOURCE = "clustergroup-0123abcd"
TEAM = [{"Key": "team", "Value": "core"}]
MEGABYTE = "x" * (1 << 20)

ODDITIES = {
    "nul": "\x00",
    "lone-surrogate": "\ud800",
    "surrogate-escaped-byte": "\udcff",
    "right-to-left-mark": "\u200f",
    "right-to-left-override": "\u202e",
    "zero-width-joiner": "\u200d",
    "zero-width-space": "\u200b",
    "combining-acute": "e\u0301",
    "byte-order-mark": "\ufeff",
    "emoji": "\U0001f600",
    "newline": "\n",
    "tab": "\t",
    "next-line-c1": "\x85",
    "private-use": "\ue000",
    "noncharacter": "\uffff",
    "cyrillic-o": "\u043e",
    "fullwidth-digit": "\uff11",
}
"""Each is refused by AWS in an identifier; each but the Cyrillic letter and the fullwidth digit
(letters and numbers: allowed) is also refused in a tag key or value."""

TAG_ALLOWED = frozenset({"cyrillic-o", "fullwidth-digit"})


def case(overrides: Mapping[str, Any], name: str) -> Any:
    return pytest.param(dict(overrides), id=name)


CREATE_CASES = [
    case({"Tags": {"Key": "team", "Value": "core"}}, "tags-a-dict"),
    case({"Tags": "team=core"}, "tags-a-string"),
    case({"Tags": 7}, "tags-an-int"),
    case({"Tags": b"team"}, "tags-bytes"),
    case({"Tags": [*TEAM, None]}, "none-inside-tags"),
    case({"Tags": [*TEAM, "env=prod"]}, "string-inside-tags"),
    case({"Tags": [*TEAM, ["env", "prod"]]}, "list-inside-tags"),
    case({"Tags": [*TEAM, {"Value": "prod"}]}, "tag-without-key"),
    case({"Tags": [{"Key": 1, "Value": "core"}]}, "int-key"),
    case({"Tags": [{"Key": None, "Value": "core"}]}, "none-key"),
    case({"Tags": [{"Key": b"team", "Value": "core"}]}, "bytes-key"),
    case({"Tags": [{"Key": {"k": "team"}, "Value": "core"}]}, "dict-key"),
    case({"Tags": [*TEAM, {"Key": "env", "Value": 1}]}, "int-value"),
    case({"Tags": [*TEAM, {"Key": "env", "Value": b"prod"}]}, "bytes-value"),
    case({"Tags": [*TEAM, {"Key": "env", "Value": {"v": "prod"}}]}, "dict-value"),
    case({"Tags": [*TEAM, {"Key": "env", "Value": ["prod"]}]}, "list-value"),
    case({"Tags": [*TEAM, {"Key": "env", "Value": 1.5}]}, "float-value"),
    case({"Tags": [*TEAM, {"Key": "note", "Value": MEGABYTE}]}, "megabyte-value"),
    case({"Tags": [*TEAM, {"Key": MEGABYTE, "Value": "x"}]}, "megabyte-key"),
    case({"Tags": TEAM * 2000}, "one-tag-two-thousand-times"),
    case({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(60)] + TEAM}, "sixty-one-tags"),
    case({"DBClusterSnapshotIdentifier": None}, "identifier-none"),
    case({"DBClusterSnapshotIdentifier": 20261129}, "identifier-int"),
    case({"DBClusterSnapshotIdentifier": GOOD.encode()}, "identifier-bytes"),
    case({"DBClusterSnapshotIdentifier": [GOOD]}, "identifier-list"),
    case({"DBClusterSnapshotIdentifier": ""}, "identifier-empty"),
    case({"DBClusterSnapshotIdentifier": "orders-manual-" + "1" * (1 << 20)}, "identifier-mb"),
    case({"DBClusterIdentifier": None}, "source-none"),
    case({"DBClusterIdentifier": 42}, "source-int"),
    case({"DBClusterIdentifier": "orders" + MEGABYTE}, "source-megabyte"),
]
for _name, _char in ODDITIES.items():
    CREATE_CASES.append(
        case({"DBClusterSnapshotIdentifier": GOOD[:-1] + _char}, f"identifier-{_name}")
    )
    CREATE_CASES.append(case({"DBClusterIdentifier": "orders" + _char}, f"source-{_name}"))
    if _name not in TAG_ALLOWED:
        CREATE_CASES.append(
            case({"Tags": [*TEAM, {"Key": "env", "Value": "prod" + _char}]}, f"value-{_name}")
        )
        CREATE_CASES.append(
            case({"Tags": [{"Key": "team" + _char, "Value": "core"}]}, f"key-{_name}")
        )


# --- running a call under a hang detector ---------------------------------------------------


@dataclass
class Outcome:
    """How a call ended: its result, or the exception it raised."""

    result: Any = None
    error: BaseException | None = None


def attempt(call: Callable[[], Any]) -> Outcome:
    """Run ``call`` in a daemon thread; fail if it has not returned after `HANG_TIMEOUT`."""
    outcome = Outcome()

    def target() -> None:
        try:
            outcome.result = call()
        except BaseException as exc:
            outcome.error = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(HANG_TIMEOUT)
    assert not worker.is_alive(), f"still running after {HANG_TIMEOUT}s: it hangs"
    return outcome


RDS_GUARD_DIR = str(Path(rds_guard.__file__).parent)


def frames_in_rds_guard(error: BaseException) -> list[str]:
    """The frames of ``error``'s traceback that run rds_guard's own code."""
    return [
        f"{frame.filename}:{frame.lineno}"
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.startswith(RDS_GUARD_DIR)
    ]


def assert_refused(error: BaseException | None) -> None:
    """A PolicyViolation with real violations, or botocore's own ParamValidationError."""
    assert isinstance(error, ParamValidationError), (
        f"expected PolicyViolation or ParamValidationError, got {error!r}"
    )
    if isinstance(error, rds_guard.PolicyViolation):
        assert error.violations
        assert {v.rule for v in error.violations} <= RULE_IDS
        for violation in error.violations:
            assert violation.value is None or isinstance(violation.value, str)
            assert violation.field and violation.message
    else:
        assert not frames_in_rds_guard(error)


def call(client: Any, operation: str, params: Mapping[str, Any]) -> Outcome:
    method = getattr(client, xform_name(operation))
    return attempt(lambda: method(**params))


def whole_log(path: Path) -> list[dict[str, Any]]:
    """The records of a log that must be whole: one chained JSON line per record, ASCII, none
    grown with a megabyte the call passed (texts past `audit.TEXT_MAX` are cut)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data.split(b"\n")[:-1]
    assert max(map(len, lines)) < 16 * audit.TEXT_MAX
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records)
    assert [record["seq"] for record in records] == list(range(1, len(records) + 1))
    # ensure_ascii: no raw U+2028, U+0085 or the like that a text reader would split on
    assert len(data.decode("ascii").splitlines()) == len(records)
    result = audit.verify([path])
    assert result.ok and result.records == len(records), result.summary()
    return records


# --- an in-process guarded client -----------------------------------------------------------


@dataclass
class Guarded:
    """A guarded rds client under in-process moto, with a cluster and a snapshot to work on."""

    session: Any
    client: Any
    sent: SentCounter
    policy: Path
    mode: str
    log: Path = Path()


@pytest.fixture(scope="class", params=["enforce", "warn"])
def guarded_per_mode(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    """One guarded client per mode for a whole class of tests (in-process moto)."""
    from moto import mock_aws

    folder = tmp_path_factory.mktemp(f"hostile-{request.param}")
    policy = write_policy(folder, RULE_OF_EACH_KIND, mode=request.param)
    with mock_aws():
        session, guard = guarded_session(policy)
        client = session.client("rds")
        make_cluster(client, copy_tags=True, tags={"team": "core"})
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=BASE, Tags=TEAM
        )
        yield Guarded(session, client, count_sent(client), policy, request.param)
        guard.uninstall()


@pytest.fixture
def guarded(guarded_per_mode: Guarded, tmp_path: Path) -> Guarded:
    """The class's guarded client, with a guard writing to a fresh audit log for this test."""
    log = tmp_path / "audit.jsonl"
    rds_guard.install(guarded_per_mode.session, policy=guarded_per_mode.policy, audit_path=log)
    guarded_per_mode.log = log
    return guarded_per_mode


def judge(guarded: Guarded, operation: str, params: Mapping[str, Any]) -> Outcome:
    """Make the call and check what must hold in the guard's mode; returns how it ended."""
    sent_before = guarded.sent.count(operation)
    kept = copy.deepcopy(dict(params))
    outcome = call(guarded.client, operation, params)
    sent = guarded.sent.count(operation) - sent_before
    assert dict(params) == kept, "the caller's parameters were changed"
    records = whole_log(guarded.log)
    if guarded.mode == "enforce":
        assert_refused(outcome.error)
        assert sent == 0
        if isinstance(outcome.error, rds_guard.PolicyViolation):
            assert [r["event"] for r in records] == ["blocked"]
            assert [v["rule"] for v in records[0]["violations"]] == [
                v.rule for v in outcome.error.violations
            ]
        else:
            assert records == []
    else:
        if outcome.error is not None:
            assert not frames_in_rds_guard(outcome.error), "".join(
                traceback.format_exception(outcome.error)
            )
        if sent:
            requested = [r for r in records if r["event"] == "requested"]
            assert len(requested) == 1
            assert requested[0]["violations"], "a hostile call went out without a warning"
            assert records[0]["event"] == "requested", "recorded before it went"
            assert len(records) == 2 and records[1]["call"] == requested[0]["call"]
        elif isinstance(outcome.error, ParamValidationError):
            assert records == [], "botocore refused it before anything was sent"
        else:  # not sent: botocore, the service or a look-up refused it, and said so
            assert outcome.error is not None, "a warned call was neither sent nor refused"
            if records and records[0]["event"] == "requested":  # refused after the record
                assert [r["call"] for r in records] == [records[0]["call"]] * 2
                assert records[1]["event"] in ("unknown", "failed"), "an outcome it never had"
    return outcome


# --- CreateDBClusterSnapshot: every hostile value -------------------------------------------


class TestThroughAGuardedClient:
    """Hostile values in every guarded kind of call, through one guarded client per mode."""

    @pytest.mark.parametrize("overrides", CREATE_CASES)
    def test_create_snapshot(self, guarded: Guarded, overrides: dict[str, Any]) -> None:
        """Hostile identifiers, sources and tags on CreateDBClusterSnapshot."""
        params = {
            "DBClusterIdentifier": "orders",
            "DBClusterSnapshotIdentifier": GOOD,
            "Tags": TEAM,
        }
        params.update(overrides)
        judge(guarded, "CreateDBClusterSnapshot", params)

    @pytest.mark.parametrize(
        "tags",
        [
            pytest.param({"Key": "env", "Value": "prod"}, id="a-dict"),
            pytest.param("env=prod", id="a-string"),
            pytest.param([None], id="none-inside"),
            pytest.param([{"Value": "prod"}], id="no-key"),
            pytest.param([{"Key": 7, "Value": "prod"}], id="int-key"),
            pytest.param([{"Key": "env", "Value": b"prod"}], id="bytes-value"),
            pytest.param([{"Key": "note", "Value": MEGABYTE}], id="megabyte-value"),
            pytest.param([{"Key": "env", "Value": "staging"}], id="not-allowed"),
            pytest.param([{"Key": "aws:team", "Value": "x"}], id="aws-prefix"),
            pytest.param([{"Key": "\u200baws:team", "Value": "x"}], id="zero-width-aws-prefix"),
            *(
                pytest.param([{"Key": "note", "Value": "x" + char}], id=f"value-{name}")
                for name, char in ODDITIES.items()
                if name not in TAG_ALLOWED
            ),
        ],
    )
    def test_add_tags_to_a_snapshot(self, guarded: Guarded, tags: Any) -> None:
        """Hostile Tags on AddTagsToResource for a snapshot ARN."""
        judge(guarded, "AddTagsToResource", {"ResourceName": SNAPSHOT_ARN, "Tags": tags})

    @pytest.mark.parametrize(
        "keys",
        [
            pytest.param("team", id="a-string"),
            pytest.param(None, id="none"),
            pytest.param([None, "team"], id="none-inside"),
            pytest.param([7], id="an-int"),
            pytest.param([b"team"], id="bytes"),
            pytest.param(["team", "team"], id="protected-twice"),
            pytest.param(["note", "team", MEGABYTE], id="protected-among-a-megabyte"),
        ],
    )
    def test_remove_tags_from_a_snapshot(self, guarded: Guarded, keys: Any) -> None:
        """Hostile TagKeys on RemoveTagsFromResource for a snapshot ARN."""
        judge(guarded, "RemoveTagsFromResource", {"ResourceName": SNAPSHOT_ARN, "TagKeys": keys})

    @pytest.mark.parametrize(
        "values",
        [
            pytest.param("all", id="a-string"),
            pytest.param(["all", None], id="all-and-none"),
            pytest.param([7], id="an-int"),
            pytest.param(["111122223333\u200b"], id="zero-width-space-after-the-account"),
            pytest.param(["\uff11" * 12], id="fullwidth-digits"),
            pytest.param(["\u0661" * 12], id="arabic-indic-digits"),
            pytest.param([MEGABYTE], id="a-megabyte"),
            pytest.param(["All"], id="all-capitalised"),
        ],
    )
    def test_share_a_snapshot(self, guarded: Guarded, values: Any) -> None:
        """Hostile ValuesToAdd on ModifyDBClusterSnapshotAttribute (restore)."""
        params = {
            "DBClusterSnapshotIdentifier": BASE,
            "AttributeName": "restore",
            "ValuesToAdd": values,
        }
        judge(guarded, "ModifyDBClusterSnapshotAttribute", params)

    def test_share_under_restore_spelled_as_java_reads_it(self, guarded: Guarded) -> None:
        """AttributeName ``reſtore``, which a service comparing it as Java does
        (equalsIgnoreCase) takes for restore. (The spellings with control characters are
        judged in tests/core/test_decide.py: sent in warn mode, moto would keep them in the
        snapshot the other tests share, and answer them in XML no parser reads.)"""
        params = {
            "DBClusterSnapshotIdentifier": BASE,
            "AttributeName": "re\u017ftore",
            "ValuesToAdd": ["all"],
        }
        judge(guarded, "ModifyDBClusterSnapshotAttribute", params)

    @pytest.mark.parametrize(
        "final",
        [
            pytest.param(20261129, id="an-int"),
            pytest.param(["gone-manual-20261129"], id="a-list"),
            pytest.param("", id="empty"),
            pytest.param("gone-manual-" + "1" * (1 << 20), id="a-megabyte"),
            *(
                pytest.param("gone-manual-2026112" + char, id=name)
                for name, char in ODDITIES.items()
            ),
        ],
    )
    def test_final_snapshot_of_a_deleted_cluster(self, guarded: Guarded, final: Any) -> None:
        """Hostile FinalDBSnapshotIdentifier on DeleteDBCluster (of a cluster that is not there,
        so that what warn mode sends deletes nothing the other tests use)."""
        params = {"DBClusterIdentifier": "gone", "FinalDBSnapshotIdentifier": final}
        judge(guarded, "DeleteDBCluster", params)

    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({"CopyTags": "yes", "Tags": "team=core"}, id="copy-tags-a-string"),
            pytest.param({"TargetDBClusterSnapshotIdentifier": 7}, id="target-an-int"),
            pytest.param({"SourceDBClusterSnapshotIdentifier": None}, id="source-none"),
            pytest.param(
                {"SourceDBClusterSnapshotIdentifier": SNAPSHOT_ARN + "\ud800"},
                id="source-arn-surrogate",
            ),
            pytest.param(
                {"TargetDBClusterSnapshotIdentifier": COPY.replace("-", "\u200d-", 1)},
                id="target-zero-width-joiner",
            ),
            pytest.param({"Tags": [{"Key": "team", "Value": "core\x00"}]}, id="value-nul"),
        ],
    )
    def test_copy_snapshot(self, guarded: Guarded, overrides: dict[str, Any]) -> None:
        """Hostile parameters on CopyDBClusterSnapshot."""
        params = {
            "SourceDBClusterSnapshotIdentifier": BASE,
            "TargetDBClusterSnapshotIdentifier": COPY,
            "Tags": TEAM,
        }
        params.update(overrides)
        judge(guarded, "CopyDBClusterSnapshot", params)

    @pytest.mark.parametrize(
        ("operation", "params"),
        [
            pytest.param(
                "CreateDBClusterSnapshot",
                {
                    "DBClusterIdentifier": "orders",
                    "DBClusterSnapshotIdentifier": GOOD,
                    "Tags": TEAM,
                },
                id="create",
            ),
            pytest.param(
                "CopyDBClusterSnapshot",
                {
                    "SourceDBClusterSnapshotIdentifier": BASE,
                    "TargetDBClusterSnapshotIdentifier": COPY,
                    "Tags": TEAM,
                },
                id="copy",
            ),
            pytest.param(
                "AddTagsToResource",
                {"ResourceName": SNAPSHOT_ARN, "Tags": [{"Key": "env", "Value": "prod"}]},
                id="tag",
            ),
            pytest.param(
                "RemoveTagsFromResource",
                {"ResourceName": SNAPSHOT_ARN, "TagKeys": ["note"]},
                id="untag",
            ),
            pytest.param(
                "ModifyDBClusterSnapshotAttribute",
                {
                    "DBClusterSnapshotIdentifier": BASE,
                    "AttributeName": "restore",
                    "ValuesToAdd": ["111122223333"],
                },
                id="share",
            ),
        ],
    )
    def test_the_same_calls_without_a_hostile_value_go_through(
        self, guarded: Guarded, operation: str, params: dict[str, Any]
    ) -> None:
        """Control: the calls above, minus the hostile value, break no rule and are sent, so
        each refusal above is the hostile value's doing."""
        sent_before = guarded.sent.count(operation)
        outcome = call(guarded.client, operation, params)
        assert outcome.error is None or "AlreadyExists" in str(outcome.error)
        assert guarded.sent.count(operation) == sent_before + 1
        requested = [r for r in whole_log(guarded.log) if r["event"] == "requested"]
        assert len(requested) == 1 and requested[0]["violations"] == []


# --- counted at a moto server over HTTP -----------------------------------------------------


def server_client(server: MotoServer, policy: Path) -> Any:
    """A guarded rds client of the moto server, auditing next to ``policy``, with cluster
    "orders" (copying its tags)."""
    client = guarded_client(policy, on=server, audit_path=policy.parent / "audit.jsonl")
    make_cluster(client, copy_tags=True, tags={"team": "core"})
    server.reset_counts()
    return client


@pytest.mark.parametrize(
    ("overrides", "blocked"),
    [
        pytest.param({"Tags": {"Key": "team", "Value": "core"}}, False, id="tags-a-dict"),
        pytest.param(
            {"Tags": [*TEAM, {"Key": "note", "Value": MEGABYTE}]}, True, id="megabyte-value"
        ),
        pytest.param(
            {"DBClusterSnapshotIdentifier": GOOD[:-1] + "\ud800"}, True, id="surrogate-id"
        ),
        pytest.param({"Tags": [{"Key": "team\x00", "Value": "core"}]}, True, id="nul-in-key"),
        pytest.param({"DBClusterSnapshotIdentifier": None}, False, id="no-identifier"),
        pytest.param(
            {"Tags": [*TEAM, {"Key": "env", "Value": "prod\u202e"}]}, True, id="bidi-override"
        ),
    ],
)
def test_nothing_is_sent_for_a_hostile_call_in_enforce_mode(
    moto_server: MotoServer, tmp_path: Path, overrides: dict[str, Any], blocked: bool
) -> None:
    """Representative hostile calls over real HTTP: refused, and the server never sees them.
    One botocore's validation refuses (``blocked`` False) gets botocore's own error, as
    without the guard, and no record: the guard judges the call botocore would send."""
    client = server_client(moto_server, write_policy(tmp_path, RULE_OF_EACH_KIND))
    params = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}
    params.update(overrides)
    outcome = attempt(lambda: client.create_db_cluster_snapshot(**params))
    if blocked:
        assert isinstance(outcome.error, rds_guard.PolicyViolation)
    else:
        assert type(outcome.error) is ParamValidationError
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    records = whole_log(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == (["blocked"] if blocked else [])


@pytest.mark.parametrize(
    ("source", "why"),
    [
        pytest.param("orders\ud800", "cannot be encoded", id="lone-surrogate"),
        pytest.param("orders\x00", "moto's answer cannot be parsed", id="nul"),
    ],
)
def test_a_source_whose_tags_cannot_be_read_fails_closed(
    moto_server: MotoServer, tmp_path: Path, source: str, why: str
) -> None:
    """The guard reads the source's tags to keep them; a source name the read chokes on (the
    request cannot be encoded, or the answer cannot be parsed) is tags.inherit, not a
    UnicodeEncodeError or a parser error out of the guard."""
    client = server_client(moto_server, write_policy(tmp_path, DEFAULTS_ONLY))
    outcome = attempt(
        lambda: client.create_db_cluster_snapshot(
            DBClusterIdentifier=source, DBClusterSnapshotIdentifier=GOOD
        )
    )
    assert isinstance(outcome.error, rds_guard.PolicyViolation), (why, outcome.error)
    assert [v.rule for v in outcome.error.violations] == ["tags.inherit"]
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [r["event"] for r in whole_log(tmp_path / "audit.jsonl")] == ["blocked"]


def test_a_source_whose_tags_cannot_be_read_in_warn_mode_is_sent_as_made(
    moto_server: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Warn mode: the guard warns (tags.inherit) and hands the call on unchanged; it is
    botocore, not the guard, that then fails to encode the lone surrogate."""
    client = server_client(moto_server, write_policy(tmp_path, DEFAULTS_ONLY, mode="warn"))
    with caplog.at_level("WARNING", logger="rds_guard"):
        outcome = attempt(
            lambda: client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders\ud800", DBClusterSnapshotIdentifier=GOOD
            )
        )
    assert isinstance(outcome.error, UnicodeEncodeError)
    assert not frames_in_rds_guard(outcome.error)
    assert "[tags.inherit]" in caplog.text
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    records = whole_log(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == ["requested", "unknown"]
    assert records[1]["error"]["code"] == "UnicodeEncodeError"


# --- the same values through evaluate() -----------------------------------------------------

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EVALUATED = rds_guard.Policy.from_toml(RULE_OF_EACH_KIND)

BAD_IDENTIFIERS = [
    7,
    1.5,
    True,
    b"orders-manual-20261129",
    ["orders-manual-20261129"],
    {"id": "x"},
    "",
    "orders-manual-" + "1" * (1 << 20),
    *("orders-manual-2026112" + char for char in ODDITIES.values()),
]
BAD_TAG_LISTS = [
    {"Key": "team", "Value": "core"},
    "team=core",
    7,
    b"team",
    [*TEAM, None],
    [*TEAM, "env=prod"],
    [*TEAM, {"Value": "prod"}],
    [{"Key": 1, "Value": "core"}],
    [{"Key": b"team", "Value": "core"}],
    [*TEAM, {"Key": "env", "Value": 1}],
    [*TEAM, {"Key": "env", "Value": {"v": "prod"}}],
    [*TEAM, {"Key": "note", "Value": MEGABYTE}],
    [*TEAM, {"Key": MEGABYTE, "Value": "x"}],
    *(
        [*TEAM, {"Key": "env", "Value": "prod" + char}]
        for name, char in ODDITIES.items()
        if name not in TAG_ALLOWED
    ),
]
OTHER_VALUES = [None, 7, "", "arn:", SNAPSHOT_ARN + "\ud800", [None, 7], ["all", None], MEGABYTE]


def base_params(operation: str) -> dict[str, Any]:
    """A call of ``operation`` that breaks no rule of `EVALUATED`."""
    return {
        "CreateDBClusterSnapshot": {
            "DBClusterIdentifier": "orders",
            "DBClusterSnapshotIdentifier": GOOD,
            "Tags": TEAM,
        },
        "CreateDBSnapshot": {
            "DBInstanceIdentifier": "orders",
            "DBSnapshotIdentifier": GOOD,
            "Tags": TEAM,
        },
        "CopyDBClusterSnapshot": {
            "SourceDBClusterSnapshotIdentifier": BASE,
            "TargetDBClusterSnapshotIdentifier": COPY,
            "Tags": TEAM,
        },
        "CopyDBSnapshot": {
            "SourceDBSnapshotIdentifier": BASE,
            "TargetDBSnapshotIdentifier": COPY,
            "Tags": TEAM,
        },
        "DeleteDBCluster": {"DBClusterIdentifier": "orders", "FinalDBSnapshotIdentifier": GOOD},
        "DeleteDBInstance": {"DBInstanceIdentifier": "orders", "FinalDBSnapshotIdentifier": GOOD},
        "DeleteTenantDatabase": {
            "DBInstanceIdentifier": "orders",
            "TenantDBName": "orders",
            "FinalDBSnapshotIdentifier": GOOD,
        },
        "StopDBInstance": {"DBInstanceIdentifier": "orders", "DBSnapshotIdentifier": GOOD},
        "StartExportTask": {
            "ExportTaskIdentifier": "export-1",
            "SourceArn": SNAPSHOT_ARN,
            "S3BucketName": "acme-backups",
            "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/export",
            "KmsKeyId": "alias/export",
        },
        "DeleteDBInstanceAutomatedBackup": {"DbiResourceId": "db-ABCDEFGHIJ"},
        "DeleteDBClusterAutomatedBackup": {"DbClusterResourceId": "cluster-ABCDEFGHIJ"},
        "CreateDBClusterGroupSnapshot": {
            "DBClusterGroupIdentifier": "orders",
            "DBClusterGroupSnapshotIdentifier": GOOD,
            "Tags": TEAM,
        },
        "DeleteDBClusterGroupSnapshot": {"DBClusterGroupSnapshotIdentifier": BASE},
        "DeleteDBClusterGroupAutomatedBackup": {"DBClusterGroupResourceId": GROUP_RESOURCE},
        "DeleteDBClusterGroup": {"DBClusterGroupIdentifier": "orders"},
        "AddTagsToResource": {"ResourceName": SNAPSHOT_ARN, "Tags": TEAM},
        "RemoveTagsFromResource": {"ResourceName": SNAPSHOT_ARN, "TagKeys": ["note"]},
        "ModifyDBClusterSnapshotAttribute": {
            "DBClusterSnapshotIdentifier": BASE,
            "AttributeName": "restore",
            "ValuesToAdd": ["111122223333"],
        },
        "ModifyDBSnapshotAttribute": {
            "DBSnapshotIdentifier": BASE,
            "AttributeName": "restore",
            "ValuesToAdd": ["111122223333"],
        },
        "DeleteDBClusterSnapshot": {"DBClusterSnapshotIdentifier": BASE},
        "DeleteDBSnapshot": {"DBSnapshotIdentifier": BASE},
        "ModifyDBInstance": {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 7},
        "PromoteReadReplica": {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 7},
    }[operation]


def evaluate_checked(
    service: str, operation: str, params: dict[str, Any], source_tags: Any
) -> rds_guard.Decision:
    """evaluate() under the hang detector, checking what holds for any input."""
    kept = copy.deepcopy(params)
    outcome = attempt(
        lambda: rds_guard.evaluate(
            EVALUATED,
            operation,
            params,
            service=service,
            source_tags=source_tags,
            region="us-east-1",
            now=NOW,
        )
    )
    assert outcome.error is None, "".join(traceback.format_exception(outcome.error))
    decision: rds_guard.Decision = outcome.result
    assert params == kept, "evaluate() changed its input"
    assert decision.params is not params
    for violation in decision.violations:
        assert violation.rule in RULE_IDS
        assert violation.value is None or isinstance(violation.value, str)
        assert isinstance(violation.field, str) and isinstance(violation.message, str)
    return decision


SOURCE_TAGS = [None, {"team": "core", "aws:cloudformation:stack-name": "x"}, rds_guard.UNREADABLE]
GUARDED_PAIRS = [
    (service, name)
    for name, row in operations.OPERATIONS.items()
    for service in sorted(row.services)
]
"""Every (service, operation) pair the guard hooks."""


@pytest.mark.parametrize(("service", "operation"), GUARDED_PAIRS)
def test_evaluate_takes_any_value_in_any_parameter(service: str, operation: str) -> None:
    """Every hostile value in every parameter the guard reads, for every guarded operation
    and service: a Decision (never an exception), the input untouched, well-formed
    violations; a bad identifier or a malformed tag list is always a violation."""
    row = operations.OPERATIONS[operation]
    lacking = operations.NOT_IN_API.get((service, operation), frozenset())
    base = {k: v for k, v in base_params(operation).items() if k not in lacking}
    assert not evaluate_checked(service, operation, base, None).violations
    for name in sorted(row.judged):
        judged_identifier = name == row.identifier and row.names_snapshot
        values = (
            BAD_IDENTIFIERS
            if judged_identifier
            else BAD_TAG_LISTS
            if name == row.tags
            else OTHER_VALUES
        )
        for value in values:
            for source_tags in SOURCE_TAGS:
                params = {**base, name: value}
                decision = evaluate_checked(service, operation, params, source_tags)
                rules = {v.rule for v in decision.violations}
                if judged_identifier:
                    assert rules & {"identifier.aws", "identifier.pattern"}, (name, value)
                if name == row.tags:
                    assert "tags.aws" in rules, (name, value)


class Unshowable:
    """A value whose ``repr()`` raises."""

    def __repr__(self) -> str:
        raise ValueError("no repr")


def nested(depth: int) -> list[Any]:
    """A list in a list, ``depth`` deep."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value", [nested(100_000), Unshowable()], ids=["nested", "unshowable"])
@pytest.mark.parametrize(("service", "operation"), GUARDED_PAIRS)
def test_evaluate_shows_any_value_in_its_messages(service: str, operation: str, value: Any) -> None:
    """A value nested far deeper than ``repr()`` goes (100,000 lists deep), or whose
    ``repr()`` raises, in each parameter the guard reads and as a tag's value: a Decision
    whose violations show it short (a bad identifier is one), never a RecursionError."""
    row = operations.OPERATIONS[operation]
    lacking = operations.NOT_IN_API.get((service, operation), frozenset())
    base = {k: v for k, v in base_params(operation).items() if k not in lacking}
    for name in sorted(row.judged):
        tried = [value, [*TEAM, {"Key": "env", "Value": value}]] if name == row.tags else [value]
        for given in tried:
            decision = rds_guard.evaluate(
                EVALUATED, operation, {**base, name: given}, service=service, now=NOW
            )
            shown = [v.value for v in decision.violations if v.value is not None]
            assert all(isinstance(text, str) and len(text) < 200 for text in shown), shown
            if name == row.identifier and row.names_snapshot:
                assert "identifier.aws" in {v.rule for v in decision.violations}


def test_a_value_nested_near_pythons_limit_fails_as_without_the_guard(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """botocore's validation report shows a bad value whole, and runs out of Python's
    recursion limit for a list nested about that deep. The guard runs botocore's validator in
    its handler, frames deeper than botocore does: where the report no longer fits there, the
    call is left to botocore. At every depth around botocore's own limit, the guarded call
    fails exactly as the bare one: the same exception, the same text."""
    guarded = guarded_client(write_policy(tmp_path, RULE_OF_EACH_KIND))
    bare = botocore.session.Session().create_client("rds", region_name="us-east-1")
    make_cluster(bare)

    def failure(client: Any, depth: int) -> tuple[type, str]:
        tags = [{"Key": "team", "Value": nested(depth)}]
        with pytest.raises(Exception) as caught:
            client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=tags
            )
        return type(caught.value), str(caught.value)

    low, high = 10, sys.getrecursionlimit()  # bare: refused at low, out of recursion at high
    assert (failure(bare, low)[0], failure(bare, high)[0]) == (ParamValidationError, RecursionError)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if failure(bare, middle)[0] is RecursionError else (middle, high)
    for depth in range(low - 60, high + 3):
        assert failure(guarded, depth) == failure(bare, depth), depth


def test_separators_aws_allows_are_sent_and_stay_inside_their_record(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """U+2028/U+2029 (Zl/Zp), NBSP and the ideographic space are separators AWS allows in tag
    values: the call goes out with them, and each record is still one line, even for a reader
    that splits text on U+2028 (records are written as ASCII)."""
    client = guarded_client(write_policy(tmp_path, RULE_OF_EACH_KIND))
    make_cluster(client)
    value = "a\u2028b\u2029c\u00a0d\u3000e"
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[*TEAM, {"Key": "note", "Value": value}],
    )
    found = client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=GOOD)
    tags = {t["Key"]: t["Value"] for t in found["DBClusterSnapshots"][0]["TagList"]}
    assert tags["note"] == value
    records = whole_log(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == ["requested", "created"]
    assert records[0]["tags"]["note"] == value


def test_a_tag_without_a_value_is_a_tag_with_an_empty_value(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """A tag with a Key and no Value is no attack: AWS reads it as an empty value, and so does
    the guard (enforce mode sends it as given, with no Value field, beside the tag it adds;
    the audit record carries ``""``); a tag without a Key, or with a Value of None (botocore
    refuses it), is refused (see the cases above, and tests/test_transparency.py). moto
    fails on such a tag: the request is read and answered at ``before-send``."""
    client = guarded_client(write_policy(tmp_path, RULE_OF_EACH_KIND), on=moto_server)
    make_cluster(client)
    model = client.meta.service_model
    sent: list[dict[str, str]] = []

    def answer(request: Any, **_: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        sent.append(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
        operation = model.operation_model("CreateDBClusterSnapshot")
        result = {"DBClusterSnapshot": {"DBClusterSnapshotIdentifier": GOOD}}
        return query_answer(model, request, operation, result, "rid")

    client.meta.events.register_first("before-send.rds.CreateDBClusterSnapshot", answer)
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders",
        DBClusterSnapshotIdentifier=GOOD,
        Tags=[{"Key": "team"}, {"Key": "note", "Value": ""}],
    )
    (form,) = sent
    assert {k: v for k, v in form.items() if k.startswith("Tags.")} == {
        "Tags.Tag.1.Key": "team",
        "Tags.Tag.2.Key": "note",
        "Tags.Tag.2.Value": "",
        "Tags.Tag.3.Key": "managed-by",
        "Tags.Tag.3.Value": "rds-guard",
    }
    records = whole_log(tmp_path / "audit.jsonl")
    assert records[0]["tags"] == {"team": "", "note": "", "managed-by": "rds-guard"}
    assert [record["event"] for record in records] == ["requested", "created"]


# --- every door, through every client that has it -------------------------------------------

DOORS = """\
version = 1
mode = "enforce"

[naming]
pattern = "^{source}-manual-[0-9]{8}$"

[tags]
required = ["team"]
inherit = false

[tags.allowed]
env = ["prod", "dev"]

[sharing]
accounts = ["111122223333"]

[export]
s3_buckets = ["acme-backups-*"]

[deletion]
final_snapshot = "required"
automated_backups = "keep"
minimum_age_days = 7

[audit]
path = "audit.jsonl"
fsync = false
"""
"""One rule for every door of docs/operations.md, and no inheritance: a blocked call reads
nothing but what a `[deletion]` rule needs."""

DB_SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:{BASE}"
EXPORT = {
    "ExportTaskIdentifier": "export-1",
    "SourceArn": SNAPSHOT_ARN,
    "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/export",
    "KmsKeyId": "alias/export",
}
KEEP_BACKUPS = {"DeleteAutomatedBackups": False}

DOOR_CALLS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    # operation: (a call that breaks one rule, one that breaks none; None: none can)
    "CreateDBClusterSnapshot": (
        {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": "orders-weekly"},
        {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM},
    ),
    "CopyDBClusterSnapshot": (
        {"SourceDBClusterSnapshotIdentifier": BASE, "TargetDBClusterSnapshotIdentifier": "copy"},
        {
            "SourceDBClusterSnapshotIdentifier": BASE,
            "TargetDBClusterSnapshotIdentifier": COPY,
            "Tags": TEAM,
        },
    ),
    "CreateDBSnapshot": (
        {"DBInstanceIdentifier": "orders", "DBSnapshotIdentifier": "orders-weekly"},
        {"DBInstanceIdentifier": "orders", "DBSnapshotIdentifier": GOOD, "Tags": TEAM},
    ),
    "CopyDBSnapshot": (
        {"SourceDBSnapshotIdentifier": BASE, "TargetDBSnapshotIdentifier": "copy", "Tags": TEAM},
        {"SourceDBSnapshotIdentifier": BASE, "TargetDBSnapshotIdentifier": COPY, "Tags": TEAM},
    ),
    "DeleteDBCluster": (
        {"DBClusterIdentifier": "orders", "SkipFinalSnapshot": True},
        {"DBClusterIdentifier": "orders", "FinalDBSnapshotIdentifier": "orders-manual-20261201"},
    ),
    "DeleteDBInstance": (
        {"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": True},
        {"DBInstanceIdentifier": "orders", "FinalDBSnapshotIdentifier": "orders-manual-20261201"},
    ),
    "DeleteTenantDatabase": (
        {"DBInstanceIdentifier": "orders", "TenantDBName": "orders", "SkipFinalSnapshot": True},
        {
            "DBInstanceIdentifier": "orders",
            "TenantDBName": "orders",
            "FinalDBSnapshotIdentifier": "orders-manual-20261201",
        },
    ),
    "StopDBInstance": (
        {"DBInstanceIdentifier": "orders", "DBSnapshotIdentifier": "weekly"},
        {"DBInstanceIdentifier": "orders", "DBSnapshotIdentifier": GOOD},
    ),
    "AddTagsToResource": (
        {"ResourceName": SNAPSHOT_ARN, "Tags": [{"Key": "env", "Value": "qa"}]},
        {"ResourceName": SNAPSHOT_ARN, "Tags": [{"Key": "env", "Value": "prod"}]},
    ),
    "RemoveTagsFromResource": (
        {"ResourceName": SNAPSHOT_ARN, "TagKeys": ["team"]},
        {"ResourceName": SNAPSHOT_ARN, "TagKeys": ["note"]},
    ),
    "ModifyDBClusterSnapshotAttribute": (
        {"DBClusterSnapshotIdentifier": BASE, "AttributeName": "restore", "ValuesToAdd": ["all"]},
        {
            "DBClusterSnapshotIdentifier": BASE,
            "AttributeName": "restore",
            "ValuesToAdd": ["111122223333"],
        },
    ),
    "ModifyDBSnapshotAttribute": (
        {"DBSnapshotIdentifier": BASE, "AttributeName": "restore", "ValuesToAdd": ["all"]},
        {"DBSnapshotIdentifier": BASE, "AttributeName": "restore", "ValuesToAdd": ["111122223333"]},
    ),
    "DeleteDBClusterSnapshot": ({"DBClusterSnapshotIdentifier": BASE}, None),
    "DeleteDBSnapshot": ({"DBSnapshotIdentifier": BASE}, None),
    "DeleteDBInstanceAutomatedBackup": ({"DbiResourceId": "db-ABCDEFGHIJ"}, None),
    "DeleteDBClusterAutomatedBackup": ({"DbClusterResourceId": "cluster-ABCDEFGHIJ"}, None),
    "CreateDBClusterGroupSnapshot": (
        {"DBClusterGroupIdentifier": "orders", "DBClusterGroupSnapshotIdentifier": "weekly"},
        {
            "DBClusterGroupIdentifier": "orders",
            "DBClusterGroupSnapshotIdentifier": GOOD,
            "Tags": TEAM,
        },
    ),
    "DeleteDBClusterGroupSnapshot": ({"DBClusterGroupSnapshotIdentifier": BASE}, None),
    "DeleteDBClusterGroupAutomatedBackup": ({"DBClusterGroupResourceId": GROUP_RESOURCE}, None),
    "DeleteDBClusterGroup": (
        {"DBClusterGroupIdentifier": "orders"},
        {"DBClusterGroupIdentifier": "orders", **KEEP_BACKUPS},
    ),
    "ModifyDBInstance": (
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 0},
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 7},
    ),
    "PromoteReadReplica": (
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 0},
        {"DBInstanceIdentifier": "orders", "BackupRetentionPeriod": 7},
    ),
    "StartExportTask": (
        {**EXPORT, "S3BucketName": "someone-elses-bucket"},
        {**EXPORT, "S3BucketName": "acme-backups-1"},
    ),
}
"""The snapshot deletes have no allowed form here (the snapshot was made a moment ago), nor
have the deletes of automated backups (``"keep"``)."""


_MODELS = botocore.session.get_session()
DOORS_POLICY = rds_guard.Policy.from_toml(DOORS)


def door_params(service: str, operation: str, which: int) -> dict[str, Any] | None:
    """The breaking (0) or the allowed (1) call of ``operation`` as ``service``'s client makes
    it: the rds API keeps a database's automated backups only when told, and the Neptune and
    DocumentDB APIs cannot keep those of the RDS databases here, so their deletes have no
    allowed form."""
    params = DOOR_CALLS[operation][which]
    if params is None:
        return None
    # DocumentDB's DeleteDBInstance takes the instance alone (it makes no final snapshot)
    members = _MODELS.get_service_model(service).operation_model(operation).input_shape.members
    params = {name: value for name, value in params.items() if name in members}
    row = operations.OPERATIONS[operation]
    if which == 1 and row.deletes_backups_on:
        if service not in row.deletes_backups_on:
            return None
        return {**params, **KEEP_BACKUPS}
    return dict(params)


def door_server(server: MotoServer) -> None:
    """What every door acts on, made with a plain client: Aurora cluster "orders" and its
    snapshot, PostgreSQL instance "orders" and its snapshot (both named `BASE`); the counts
    are wiped afterwards."""
    plain = server.client("rds")
    make_cluster(plain, tags={"team": "core"})
    plain.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=BASE, Tags=TEAM
    )
    make_instance(plain, "orders", tags={"team": "core"})
    plain.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier=BASE, Tags=TEAM)
    server.reset_counts()


def door_groups(client: Any, operation: str) -> ClusterGroupResponder | None:
    """For a DB cluster group operation (moto emulates none), the group API in memory on
    ``client``: group "orders", with automated backups, and its snapshot `BASE`."""
    if operation not in GROUP_OPERATIONS:
        return None
    if not has_cluster_groups():
        pytest.skip("this botocore has no DB cluster group API (1.44.18 and later)")
    groups = ClusterGroupResponder()
    groups.add_group("orders", {"team": "core"}, copy_tags=True, resource_id=GROUP_RESOURCE)
    groups.add_snapshot(BASE, "orders", {"team": "core"}, age=timedelta(0))
    groups.attach(client)
    return groups


@pytest.mark.parametrize(
    ("service", "operation"),
    [pytest.param(*pair, id=f"{pair[0]}-{pair[1]}") for pair in GUARDED_PAIRS],
)
def test_every_door_stops_a_call_that_breaks_the_policy_through_every_client(
    moto_server: MotoServer, tmp_path: Path, service: str, operation: str
) -> None:
    """docs/operations.md, row by row, through each service's own client on one endpoint: the
    call that breaks a rule is a PolicyViolation, one `blocked` record under the client's
    service, and the server never sees the operation; its allowed twin reaches the server once
    and is recorded `requested`, then its outcome."""
    door_server(moto_server)
    client = guarded_client(write_policy(tmp_path, DOORS), service, on=moto_server)
    groups = door_groups(client, operation)
    log = tmp_path / "audit.jsonl"
    method = getattr(client, xform_name(operation))

    def sent() -> int:
        return moto_server.count(operation) + (0 if groups is None else groups.count(operation))

    breaking = door_params(service, operation, 0)
    assert breaking is not None
    outcome = attempt(lambda: method(**breaking))
    assert isinstance(outcome.error, rds_guard.PolicyViolation), outcome.error
    assert outcome.error.operation == operation
    assert sent() == 0
    (blocked,) = whole_log(log)
    assert (blocked["event"], blocked["operation"], blocked["service"]) == (
        "blocked",
        operation,
        service,
    )
    assert [v["rule"] for v in blocked["violations"]] == [v.rule for v in outcome.error.violations]

    allowed = door_params(service, operation, 1)
    if allowed is None:
        return
    attempt(lambda: method(**allowed))
    assert sent() == 1
    if not rds_guard.evaluate(DOORS_POLICY, operation, allowed, service=service).recorded:
        assert whole_log(log)[1:] == []  # a ModifyDBInstance or promote that keeps them
        return
    requested, answered = whole_log(log)[1:]
    assert (requested["event"], requested["operation"]) == ("requested", operation)
    assert requested["violations"] == []
    assert answered["call"] == requested["call"]
    # moto implements not every door (DeleteTenantDatabase answers 500): the outcome is then
    # `failed` or `unknown`, but the call went, once, and was recorded first
    expected = {operations.OPERATIONS[operation].outcome, "failed", "unknown"}
    assert answered["event"] in expected


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        pytest.param(
            "neptune",
            "DeleteDBCluster",
            {
                "DBClusterIdentifier": "orders",
                "FinalDBSnapshotIdentifier": "orders-manual-20261201",
            },
            id="neptune-cluster",
        ),
        pytest.param(
            "docdb",
            "DeleteDBCluster",
            {
                "DBClusterIdentifier": "orders",
                "FinalDBSnapshotIdentifier": "orders-manual-20261201",
            },
            id="docdb-cluster",
        ),
        pytest.param(
            "neptune",
            "DeleteDBInstance",
            {
                "DBInstanceIdentifier": "orders",
                "FinalDBSnapshotIdentifier": "orders-manual-20261201",
            },
            id="neptune-instance",
        ),
        pytest.param(
            "docdb",
            "DeleteDBInstance",
            {"DBInstanceIdentifier": "orders"},  # DocumentDB's takes no final snapshot
            id="docdb-instance",
        ),
    ],
)
def test_another_services_client_cannot_take_an_rds_databases_automated_backups(
    moto_server: MotoServer, tmp_path: Path, service: str, operation: str, params: dict[str, Any]
) -> None:
    """`automated_backups = "keep"` stops the rds client's delete of Aurora cluster (or
    PostgreSQL instance) "orders" without `DeleteAutomatedBackups=False`. The Neptune and
    DocumentDB APIs cannot say False, and their request is byte for byte the rds one: sent to
    the one endpoint, it deletes the RDS database's automated backups, which AWS does by default.
    A call is judged by what it does, whatever client it comes through."""
    door_server(moto_server)
    policy = write_policy(tmp_path, DOORS)
    rds = guarded_client(policy, on=moto_server)
    with pytest.raises(rds_guard.PolicyViolation) as caught:
        getattr(rds, xform_name(operation))(**params)
    assert [v.rule for v in caught.value.violations] == ["deletion.automated_backups"]

    other = guarded_client(policy, service, on=moto_server)
    outcome = attempt(lambda: getattr(other, xform_name(operation))(**params))
    assert moto_server.count(operation) == 0, (
        f"sent: {moto_server.last_params(operation)}, no DeleteAutomatedBackups=false"
    )
    assert isinstance(outcome.error, rds_guard.PolicyViolation)
    assert [v.rule for v in outcome.error.violations] == ["deletion.automated_backups"]


def test_the_sources_tags_are_kept_whatever_client_snapshots_it(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """An Aurora cluster that copies its tags to snapshots, snapshotted through the rds, the
    Neptune and the DocumentDB client of one guarded session (one endpoint): each snapshot
    keeps the cluster's tags beside the policy's default; none loses them to the default."""
    plain = moto_server.client("rds")
    make_cluster(plain, copy_tags=True, tags={"team": "core", "env": "prod"})
    policy = write_policy(tmp_path, DEFAULTS_ONLY)
    for service in ("rds", "neptune", "docdb"):
        client = guarded_client(policy, service, on=moto_server)
        name = f"orders-{service}-1"
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name
        )
        assert snapshot_tags(plain, name) == {
            "team": "core",
            "env": "prod",
            "managed-by": "rds-guard",
        }, service
    records = whole_log(tmp_path / "audit.jsonl")
    created = [r for r in records if r["event"] == "created"]
    assert [(r["service"], r["inherited"]) for r in created] == [
        (service, ["team", "env"]) for service in ("rds", "neptune", "docdb")
    ]


# --- another handler, another way to presign ------------------------------------------------


def replace_the_tags_in_the_body(params: dict[str, Any], **_: Any) -> None:
    """A before-call handler: the serialized CreateDBClusterSnapshot goes out with one tag of
    its own in place of the ones the guard judged."""
    body = params["body"]
    if body.get("Action") != "CreateDBClusterSnapshot":
        return
    for key in [key for key in body if key.startswith("Tags.")]:
        del body[key]
    body["Tags.Tag.1.Key"] = "owner"
    body["Tags.Tag.1.Value"] = "platform"


def assert_the_rewrite_is_caught(client: Any, moto_server: MotoServer, log: Path) -> None:
    """A good CreateDBClusterSnapshot through ``client``, whose tags a handler replaces after
    the guard judged them, is judged again on what it would send: blocked, nothing sent, and
    the ``blocked`` record states the tags the handler put in."""
    outcome = attempt(
        lambda: client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    )
    assert isinstance(outcome.error, rds_guard.PolicyViolation)
    rules = {(v.rule, v.field) for v in outcome.error.violations}
    assert {("tags.required", "Tags.team"), ("request.changed", "Tags")} <= rules
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    (blocked,) = whole_log(log)
    assert (blocked["event"], blocked["tags"]) == ("blocked", {"owner": "platform"})


@pytest.mark.parametrize(
    "event",
    ["before-call.rds.CreateDBClusterSnapshot", "before-call.rds", "before-call"],
)
def test_a_before_call_handler_registered_later_cannot_rewrite_the_request(
    moto_server: MotoServer, tmp_path: Path, event: str
) -> None:
    """docs/failures.md: another handler that changes the request after the guard judged it is
    judged again on what is sent (only before-sign and before-send are beyond reach), and the
    records state what is sent. Here the handler is registered after the client was made,
    at before-call, and drops the required tag from the body."""
    client = server_client(moto_server, write_policy(tmp_path, RULE_OF_EACH_KIND))
    client.meta.events.register(event, replace_the_tags_in_the_body)
    outcome = attempt(
        lambda: client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
        )
    )
    records = whole_log(tmp_path / "audit.jsonl")
    sent = moto_server.count("CreateDBClusterSnapshot")
    assert [r["tags"] for r in records][:1] == [{"owner": "platform"}], (
        f"{sent} sent; the records say the snapshot has {[r['tags'] for r in records]}"
    )
    assert isinstance(outcome.error, rds_guard.PolicyViolation)
    rules = {(v.rule, v.field) for v in outcome.error.violations}
    assert {("tags.required", "Tags.team"), ("request.changed", "Tags")} <= rules
    assert sent == 0
    assert [r["event"] for r in records] == ["blocked"]


def test_a_before_call_handler_registered_first_is_judged_on_what_it_sends(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """Control for the test above: the same handler put before the guard's (register_first)
    is caught, as docs/failures.md says."""
    client = server_client(moto_server, write_policy(tmp_path, RULE_OF_EACH_KIND))
    client.meta.events.register_first(
        "before-call.rds.CreateDBClusterSnapshot", replace_the_tags_in_the_body
    )
    assert_the_rewrite_is_caught(client, moto_server, tmp_path / "audit.jsonl")


STAGES = ("before-parameter-build", "request-created", "after-call", "after-call-error")


@pytest.mark.parametrize("where", ["before install", "after install"])
def test_handlers_under_the_ids_the_guard_once_used_do_not_keep_it_off(
    moto_server: MotoServer, tmp_path: Path, where: str
) -> None:
    """Do-nothing handlers put on the session under ``rds_guard:<event name>``, the ids the
    guard's handlers had: botocore skips a handler whose id is taken, and every client made
    later copies the session's, so the guard's never reached them; the call was sent
    unrecorded, the guard still saying it was installed. The ids now hold a random part."""
    policy = write_policy(tmp_path, RULE_OF_EACH_KIND)
    session = botocore.session.Session()

    def squat() -> None:
        for stage in STAGES:
            event = f"{stage}.rds.CreateDBClusterSnapshot"
            session.register(event, lambda **_: None, unique_id=f"rds_guard:{event}")

    if where == "before install":
        squat()
    rds_guard.install(session, policy=policy, audit_path=tmp_path / "audit.jsonl")
    if where == "after install":
        squat()
    client = moto_server.client("rds", session=session)
    make_cluster(client, tags={"team": "core"})
    moto_server.reset_counts()
    with pytest.raises(rds_guard.PolicyViolation):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="Test2"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0
    assert [r["event"] for r in whole_log(tmp_path / "audit.jsonl")] == ["blocked"]


def test_unregistering_by_the_ids_the_guard_once_used_does_not_take_it_off(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """``unregister(event, unique_id="rds_guard:<event>")`` on a guarded client took the
    guard's handlers off with no trace; those ids are no longer the guard's."""
    client = server_client(moto_server, write_policy(tmp_path, RULE_OF_EACH_KIND))
    for stage in STAGES:
        event = f"{stage}.rds.CreateDBClusterSnapshot"
        client.meta.events.unregister(event, unique_id=f"rds_guard:{event}")
    with pytest.raises(rds_guard.PolicyViolation):
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="Test2"
        )
    assert moto_server.count("CreateDBClusterSnapshot") == 0


def test_a_request_created_handler_registered_before_the_guard_is_judged_on_what_it_sends(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """docs/failures.md: only a handler registered later on ``request-created`` is beyond
    reach. One registered on the session before the client was made runs before the guard's
    own ``request-created`` handler, and its change is caught as a ``before-call`` one is."""
    policy = write_policy(tmp_path, RULE_OF_EACH_KIND)
    session, _ = guarded_session(policy, on=moto_server, audit_path=tmp_path / "audit.jsonl")

    def rewrite(request: Any, **_: Any) -> None:
        replace_the_tags_in_the_body(params={"body": request.data})

    session.events.register("request-created.rds.CreateDBClusterSnapshot", rewrite)
    client = moto_server.client("rds", session=session)
    make_cluster(client, copy_tags=True, tags={"team": "core"})
    moto_server.reset_counts()
    assert_the_rewrite_is_caught(client, moto_server, tmp_path / "audit.jsonl")


PRESIGNED = {"DBClusterIdentifier": "orders", "DBClusterSnapshotIdentifier": GOOD, "Tags": TEAM}


def presign_through_botocore(client: Any, params: dict[str, Any]) -> str:
    """botocore's own presigning function, called with the client (as the client class's
    method is), rather than through the client's ``generate_presigned_url`` attribute."""
    url: str = botocore.signers.generate_presigned_url(
        client, "create_db_cluster_snapshot", Params=params, ExpiresIn=600
    )
    return url


def test_a_presign_through_botocores_function_is_judged(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """A non-compliant presign made through botocore's function is blocked all the same, and a
    compliant one carries the policy's tags."""
    client = guarded_client(write_policy(tmp_path, RULE_OF_EACH_KIND))
    make_cluster(client)
    with pytest.raises(rds_guard.PolicyViolation):
        presign_through_botocore(client, {**PRESIGNED, "DBClusterSnapshotIdentifier": "weekly"})
    url = presign_through_botocore(client, PRESIGNED)
    assert "managed-by" in urllib.parse.unquote(url)


def test_a_presign_through_botocores_function_is_recorded(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """docs/operations.md: a presigned URL of a guarded operation is judged and recorded
    `presigned` before it is returned; a URL that can make a snapshot leaves a record."""
    client = guarded_client(write_policy(tmp_path, RULE_OF_EACH_KIND))
    make_cluster(client)
    presign_through_botocore(client, PRESIGNED)
    records = whole_log(tmp_path / "audit.jsonl")
    assert [(r["event"], r["snapshot"]) for r in records] == [("presigned", GOOD)]
    assert records[0]["expires"] is None  # botocore's function hands the guard no expiry


def test_a_client_every_install_reaches_is_judged_and_recorded_once(
    moto_inprocess: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client reached by four guards at once (its botocore session's, the boto3 session's
    around it, boto3's default session's, which is that session, and its own direct install),
    each with a log of its own: every call is judged by one guard and written to one log,
    `requested` then `created`, never twice; uninstalling the one in force hands the next
    call to another, still once."""
    import boto3
    import botocore.session

    core = botocore.session.Session()
    session = boto3.Session(botocore_session=core, region_name="us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    logs = {name: tmp_path / f"{name}.jsonl" for name in ("core", "boto3", "default", "direct")}

    def install(name: str, target: Any = None) -> rds_guard.Guard:
        policy = write_policy(tmp_path / name, RULE_OF_EACH_KIND)
        if target is None:
            return rds_guard.install(policy=policy, audit_path=logs[name])
        return rds_guard.install(target, policy=policy, audit_path=logs[name])

    guards = [install("core", core), install("boto3", session), install("default")]
    client = session.client("rds")
    direct = install("direct", client)
    try:
        _each_call_judged_once(client, direct, logs)
    finally:
        for guard in guards:
            guard.uninstall()


def _each_call_judged_once(client: Any, direct: rds_guard.Guard, logs: dict[str, Path]) -> None:
    make_cluster(client)

    def written() -> dict[str, list[str]]:
        return {
            name: [record["event"] for record in whole_log(log)]
            for name, log in logs.items()
            if log.exists()
        }

    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=GOOD, Tags=TEAM
    )
    assert written() == {"direct": ["requested", "created"]}
    direct.uninstall()
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=BASE, Tags=TEAM
    )
    after = written()
    assert after.pop("direct") == ["requested", "created"]
    assert list(after.values()) == [["requested", "created"]], after
