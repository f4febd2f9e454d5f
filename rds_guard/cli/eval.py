"""``rds-guard eval``: what the guard would do to one call, offline.

Its arguments, its run function, and its two jobs: command-line words -> the call's
parameters, and a `Decision` -> text (with what the audit log would record, and what could
not be judged offline) or JSON. Parameter types come from botocore's service
model of the service and operation (botocore's data files, read offline, and only when this
command runs): a list parameter (``ValuesToAdd``, ``TagKeys``) is built from repeated
``--param``, a boolean one (``CopyTags``) takes ``true``/``false``, an integer one a number;
everything else is a string. Documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from rds_guard.core import operations
from rds_guard.core.decide import UNREADABLE, Decision, SourceTags, evaluate
from rds_guard.core.deletion import reads_as_zero
from rds_guard.core.operations import Kind, Operation
from rds_guard.core.policy import Policy, uses_region
from rds_guard.core.positions import shown
from rds_guard.core.tagging import read_tag_list, reads_source_tags

from .common import (
    PROG,
    UsageError,
    add_policy,
    add_service,
    iso_time,
    policy_for,
    print_json,
    print_lines,
    printable,
    region_name,
    whole_number,
)

HELP = (
    "Show what the guard would do to one call, offline.\n"
    "\n"
    "Prints allowed or blocked, the final params, each violation, the tag keys the policy\n"
    "injected and the source passed on, and what the audit log would record; exit 1 when\n"
    "the call breaks a rule. A list parameter (ValuesToAdd, ValuesToRemove, TagKeys) is\n"
    "built from repeated --param; a boolean one (CopyTags, SkipFinalSnapshot) takes true or\n"
    "false. --source-tag stands for the tags the source passes on (CopyTagsToSnapshot,\n"
    "CopyTags) and, for deletes and tag operations, for the tags the snapshot carries now;\n"
    "--snapshot-created for when the snapshot was made ([deletion] minimum_age_days)."
)
EXAMPLE = (
    "rds-guard eval CreateDBClusterSnapshot --param DBClusterIdentifier=orders "
    "--param DBClusterSnapshotIdentifier=orders-manual-20261129 --tag team=payments "
    "--tag env=prod\n"
    "  rds-guard eval ModifyDBClusterSnapshotAttribute --param "
    "DBClusterSnapshotIdentifier=orders-manual-20261129 --param AttributeName=restore "
    "--param ValuesToAdd=all --param ValuesToAdd=444455556666 --json\n"
    "  rds-guard eval DeleteDBClusterSnapshot --param DBClusterSnapshotIdentifier=orders-1 "
    "--snapshot-created 2026-11-29T10:00:00Z --source-tag legal-hold=true"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``[--policy P] [--service S] [--region R] OPERATION [--param NAME=VALUE ...] ...``."""
    parser.add_argument("operation", metavar="OPERATION", help="e.g. CreateDBClusterSnapshot")
    add_policy(parser)
    add_service(parser)
    parser.add_argument(
        "--region",
        type=region_name,
        metavar="R",
        help="the region {region} renders (default: the configured one)",
    )
    _add_pairs(
        parser,
        "--param",
        "NAME=VALUE",
        "a request parameter (repeat it for each item of a list parameter)",
    )
    _add_pairs(parser, "--tag", "KEY=VALUE", "a tag of the request's Tags, in order")
    source = parser.add_mutually_exclusive_group()
    _add_pairs(
        source,
        "--source-tag",
        "KEY=VALUE",
        "a tag the source passes on (CopyTagsToSnapshot on, or CopyTags=true); for deletes"
        " and tag operations, a tag the snapshot carries now",
    )
    source.add_argument(
        "--source-unreadable",
        action="store_true",
        help="the source would pass its tags on, but they cannot be read (tags.inherit); for"
        " deletes and tag operations, the snapshot cannot be read",
    )
    parser.add_argument(
        "--snapshot-created",
        type=iso_time,
        metavar="TIME",
        help="for deletes: when the snapshot was made (ISO 8601; no zone: UTC), for"
        " [deletion] minimum_age_days",
    )
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the decision on the call; exit 1 when it breaks a rule."""
    policy = policy_for(args.policy, "pass --policy P")
    operation = operation_name(args.service, args.operation)
    params = build_params(args.service, operation, args.param, args.tag)
    source_tags: SourceTags = _source_tags(args.source_tag)
    if args.source_unreadable:
        source_tags = UNREADABLE
    region = args.region or configured_region()
    if region is None and uses_region(policy):
        raise UsageError(
            "the policy's templates use {region}, and no region is configured: pass --region R"
        )
    decision = evaluate(
        policy,
        operation,
        params,
        service=args.service,
        source_tags=source_tags,
        region=region,
        snapshot_created=args.snapshot_created,
    )
    unknown = not_judged(policy, decision, params, args)
    if args.json:
        print_json(decision_json(decision))
        for line in unknown:
            print(f"{PROG}: note: {printable(line)}", file=sys.stderr)
    else:
        print_lines(decision_lines(decision, policy))
        print_lines(f"not judged: {line}" for line in unknown)
    return 0 if decision.allowed else 1


def _add_pairs(parser: argparse._ActionsContainer, option: str, metavar: str, help: str) -> None:
    """A repeatable ``option METAVAR`` whose words, ``NAME=VALUE``, collect as pairs."""
    parser.add_argument(
        option, type=_pair(metavar), action="append", default=[], metavar=metavar, help=help
    )


def _source_tags(pairs: list[tuple[str, str]] | None) -> dict[str, str] | None:
    """The tags ``--source-tag`` gives (None: none given); a key given twice is refused, as
    a resource holds each key once (the guard cannot read such tags: ``tags.inherit``)."""
    if not pairs:
        return None
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise UsageError(f"--source-tag {key} given twice (a resource holds each key once)")
        tags[key] = value
    return tags


def _pair(what: str) -> Callable[[str], tuple[str, str]]:
    """An argparse type for ``NAME=VALUE`` words (split at the first ``=``)."""

    def parse(text: str) -> tuple[str, str]:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected {what}, got {shown(text)}")
        return name, value

    return parse


TAGS_PARAMETER = "Tags"
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
_NOT_JUDGED = {
    Kind.TAG: "ResourceName is not a snapshot ARN",
    Kind.UNTAG: "ResourceName is not a snapshot ARN",
    Kind.SHARE: "only AttributeName=restore is judged",
    Kind.RETENTION: "only BackupRetentionPeriod=0 is judged",
    Kind.BACKUP: "DeleteAutomatedBackups=False keeps the automated backups",
}


def operation_name(service: str, text: str) -> str:
    """The guarded operation ``text`` names on ``service``, in any spelling
    `rds_guard.core.operations.operation_name` accepts (``CreateDBClusterSnapshot``,
    ``create_db_cluster_snapshot``, ``create-db-cluster-snapshot``)."""
    name = operations.operation_name(text)
    if name is None:
        guarded = ", ".join(
            n for n, row in operations.OPERATIONS.items() if service in row.services
        )
        raise UsageError(
            f"{_cut(text)} is not an operation rds_guard guards (on {service}: {guarded})"
        )
    if operations.find(service, name) is None:
        owners = ", ".join(sorted(operations.OPERATIONS[name].services))
        raise UsageError(f"{name} is not a {service} operation rds_guard guards (it is: {owners})")
    return name


@lru_cache(maxsize=8)
def _input_members(service: str, operation: str) -> Mapping[str, Any] | None:
    """The operation's input shapes by parameter name (None: botocore does not know it)."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError
    from botocore.model import OperationNotFoundError

    try:
        model = botocore.session.get_session().get_service_model(service)
        shape = model.operation_model(operation).input_shape
    except (UnknownServiceError, OperationNotFoundError):
        return None
    return dict(shape.members) if shape is not None else {}


def build_params(
    service: str,
    operation: str,
    params: Sequence[tuple[str, str]],
    tags: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The call's parameters from ``--param NAME=VALUE`` and ``--tag KEY=VALUE`` pairs."""
    members = _input_members(service, operation)
    built: dict[str, Any] = {}
    for name, text in params:
        shape = _member(members, operation, name)
        kind = getattr(shape, "type_name", "string")
        if kind == "list":
            built.setdefault(name, []).append(_list_item(name, shape, text))
        elif name in built:
            raise UsageError(f"--param {name} given twice (it takes one value)")
        else:
            built[name] = _scalar(name, kind, text)
    if tags:
        if members is not None and TAGS_PARAMETER not in members:
            raise UsageError(f"{operation} takes no Tags: drop --tag")
        built[TAGS_PARAMETER] = [{"Key": key, "Value": value} for key, value in tags]
    return built


def _member(members: Mapping[str, Any] | None, operation: str, name: str) -> Any:
    if name == TAGS_PARAMETER:
        raise UsageError("give tags with --tag KEY=VALUE, not --param Tags=...")
    if members is None:
        return None
    if name not in members:
        close = difflib.get_close_matches(name, list(members), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else f" (it takes: {', '.join(members)})"
        raise UsageError(f"{operation} has no parameter {_cut(name)}{hint}")
    return members[name]


def _list_item(name: str, shape: Any, text: str) -> Any:
    item = getattr(getattr(shape, "member", None), "type_name", "string")
    if item != "string":
        raise UsageError(f"--param {name}: a list of {item}s cannot be given on the command line")
    if text.strip().startswith("[") and text.strip().endswith("]"):
        # the JSON of the AWS CLI: one item here, and a call AWS refuses judged as allowed
        raise UsageError(
            f"{_given(name, text)}: give each item of the list with a --param of its own"
            f" (--param {name}=ITEM --param {name}=ITEM)"
        )
    return text


def _given(name: str, text: str) -> str:
    """``--param NAME=VALUE`` as given, a long value cut short with its length (the name is
    one of the operation's)."""
    return f"--param {name}={_cut(text)}"


def _cut(text: str, limit: int = 60) -> str:
    """``text`` as given, cut short with its length when it is long."""
    return f"{text[:limit]}... ({len(text)} characters)" if len(text) > limit else text


def _scalar(name: str, kind: str, text: str) -> Any:
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in _TRUE | _FALSE:
            raise UsageError(
                f"{_given(name, text)}: expected true or false (or yes/no, on/off, 1/0)"
            )
        return lowered in _TRUE
    if kind in ("integer", "long"):
        number = whole_number(text)
        if number is None:
            raise UsageError(f"{_given(name, text)}: expected a whole number")
        return number
    if kind in ("structure", "map"):
        raise UsageError(f"--param {name}: a {kind} cannot be given on the command line")
    return text


def decision_json(decision: Decision) -> dict[str, Any]:
    """The ``--json`` shape: allowed, params, violations, injected, inherited."""
    return {
        "allowed": decision.allowed,
        "params": decision.params,
        "violations": [v.as_dict() for v in decision.violations],
        "injected": list(decision.injected),
        "inherited": list(decision.inherited),
    }


def decision_lines(decision: Decision, policy: Policy) -> list[str]:
    """The human report: the verdict, each violation, the final params, injected, inherited."""
    lines = [_verdict(decision, policy)]
    lines += [f"  {violation}" for violation in decision.violations]
    lines.append("params:")
    for name, value in decision.params.items():
        if name == TAGS_PARAMETER and isinstance(value, list):
            lines.append(f"  {name}:" + ("" if value else " (none)"))
            lines += [f"    {_tag_line(tag, decision)}" for tag in value]
        else:
            lines.append(f"  {name} = {_value_text(value)}")
    lines.append(f"injected: {', '.join(decision.injected) or 'none'}")
    lines.append(f"inherited: {', '.join(decision.inherited) or 'none'}")
    return lines + _record_lines(decision, policy)


def _verdict(decision: Decision, policy: Policy) -> str:
    call = f"{decision.service} {decision.operation}"
    if not decision.recorded:
        row = operations.OPERATIONS[decision.operation]
        why = _NOT_JUDGED.get(row.kind) or f"no {row.identifier}, so no snapshot is made"
        return f"allowed: {call} is not judged ({why}); it would be sent as is"
    if decision.allowed:
        return f"allowed: {call} would be sent with the params below"
    count = len(decision.violations)
    rules = f"{count} rule" + ("" if count == 1 else "s")
    if policy.mode == "enforce":
        return f"blocked: {call} breaks {rules}; in enforce mode it would not be sent"
    return f"not allowed: {call} breaks {rules}; in warn mode it would be logged and sent anyway"


def _record_lines(decision: Decision, policy: Policy) -> list[str]:
    """What the audit log would record of the call (nothing for a call that is not judged)."""
    if not decision.recorded:
        return []
    row = operations.OPERATIONS[decision.operation]
    if decision.violations and policy.mode == "enforce":
        lines = ["record: blocked, with its violations"]
    else:
        carrying = ", with its violations" if decision.violations else ""
        made = " (no final snapshot is made)" if decision.snapshot is None else ""
        lines = [
            f"record: requested{carrying}, then {decision.outcome} if the service accepts it"
            + (made if row.kind is Kind.FINAL else "")
        ]
    lines += [f"  {name}: {value}" for name, value in decision.extra.items()]
    if decision.tags and row.kind is Kind.DELETE:
        held = ", ".join(f"{key} = {value}" for key, value in decision.tags.items())
        lines.append(f"  hold tags: {held}")
    lines += [f"  note: {note}" for note in decision.notes]
    return lines


def not_judged(
    policy: Policy, decision: Decision, params: Mapping[str, Any], args: argparse.Namespace
) -> list[str]:
    """The rules the call could not be judged by offline, for want of what the guard would
    read of the snapshot or the source, each with the option that gives it."""
    if not decision.recorded or args.source_unreadable:  # unreadable: violations already
        return []
    row, deletion = operations.OPERATIONS[decision.operation], policy.deletion
    lines = []
    age = deletion.minimum_age_days
    if row.kind is Kind.DELETE and age is not None and args.snapshot_created is None:
        lines.append(
            f"the snapshot's age ([deletion] minimum_age_days = {age:g}):"
            " give --snapshot-created TIME"
        )
    if deletion.hold_tags and not args.source_tag and _may_hold(row, params, deletion.hold_tags):
        lines.append(
            f"the hold tags ([deletion.hold_tags] {', '.join(deletion.hold_tags)}): the"
            " snapshot is taken to carry none; give --source-tag KEY=VALUE for each tag it"
            " carries"
        )
    if not args.source_tag and _inherits(policy, row, params):
        inherit = '"always"' if policy.tags.inherit == "always" else "true"
        lines.append(
            f"the source's tags ([tags] inherit = {inherit}): it is taken to pass none on;"
            " give --source-tag KEY=VALUE for each tag it passes on"
        )
    return lines + _database_not_read(policy, row, params, args.service)


def _inherits(policy: Policy, row: Operation, params: Mapping[str, Any]) -> bool:
    """True when the guard would read the tags the source of a create or copy passes on."""
    if row.kind not in (Kind.CREATE, Kind.COPY) or row.tags is None:
        return False
    pairs, malformed = read_tag_list(params, row.tags)
    return reads_source_tags(policy.tags, row, params, bool(pairs) or bool(malformed))


def _database_not_read(
    policy: Policy, row: Operation, params: Mapping[str, Any], service: str
) -> list[str]:
    """What the guard would read of the database a delete acts on, where its kind decides
    the call: offline there is none to read (`evaluate` takes it to be an ordinary RDS one)."""
    deletion, lines = policy.deletion, []
    skips = params.get("SkipFinalSnapshot") is True
    if row.final_exemptions and deletion.final_snapshot == "required" and skips:
        lines.append(
            'the instance ([deletion] final_snapshot = "required"): it is taken to be an'
            " ordinary one; the guard reads it, and lets a cluster member, a read replica, an"
            " RDS Custom instance or one in a failure state go without a final snapshot"
        )
    keep = deletion.automated_backups == "keep" and bool(row.deletes_backups_on)
    elsewhere = service not in row.deletes_backups_on  # the engine decides (deletion.py)
    if keep and elsewhere and params.get("DeleteAutomatedBackups") is not False:
        lines.append(
            'the database\'s engine ([deletion] automated_backups = "keep"): it is taken to'
            " be an RDS one, whose automated backups go with it; the guard reads it, and lets"
            " a DocumentDB or Neptune cluster's delete go"
        )
    turns_off = row.retention is not None and reads_as_zero(params.get(row.retention))
    instance = params.get(row.facts_from) if row.facts_from else None
    read = row.facts_lookup is not None and isinstance(instance, str) and bool(instance)
    if deletion.automated_backups == "keep" and read and turns_off:
        lines.append(
            'the instance ([deletion] automated_backups = "keep"): it is taken to be no'
            f" cluster member; the guard reads it, and lets {row.retention}=0 on a cluster"
            " member go (its automated backups are the cluster's)"
        )
    return lines


def _may_hold(row: Operation, params: Mapping[str, Any], hold_tags: Mapping[str, str]) -> bool:
    """True when the hold tags the snapshot carries would decide the call: a snapshot delete,
    or a tag operation touching a hold key."""
    if row.kind is Kind.DELETE:
        return True
    tags = params.get(row.tags) if row.tags else params.get(row.tag_keys or "")
    keys = [t.get("Key") if isinstance(t, Mapping) else t for t in tags or []]
    return any(key in hold_tags for key in keys)


def _tag_line(tag: object, decision: Decision) -> str:
    if not isinstance(tag, Mapping):
        return _value_text(tag)
    key = str(tag.get("Key"))
    text = f"{key} = {_value_text(tag.get('Value', ''))}"
    if key in decision.injected:
        return f"{text}  (injected)"
    return f"{text}  (inherited)" if key in decision.inherited else text


def _value_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False)


def configured_region() -> str | None:
    """The region botocore would use for a client made without one (env, config file); one
    that is no region's name is bad usage, as ``--region`` holding it is: botocore makes no
    client in it, so no guarded call gets the verdict it would give (a copy's source judged
    in another region, a ``{region}`` rendered)."""
    import botocore.session

    region = botocore.session.Session().get_config_variable("region")
    if not isinstance(region, str) or not region:
        return None
    try:
        return region_name(region)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(
            f"the configured region (AWS_DEFAULT_REGION or the profile's): {exc}; pass --region R"
        ) from None
