"""``rds-guard eval``: command-line words -> one call's parameters, and a `Decision` -> text.

Parameter types come from botocore's service model of the service and operation (loaded
from botocore's data files, offline): a list parameter (``ValuesToAdd``, ``TagKeys``) is
built from repeated ``--param``, a boolean one (``CopyTags``) takes ``true``/``false``, an
integer one a number; everything else is a string.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationNotFoundError

from .core import operations
from .core.decide import Decision
from .core.operations import Kind
from .core.policy import Policy

__all__ = [
    "ParamError",
    "build_params",
    "configured_region",
    "decision_json",
    "decision_lines",
    "operation_name",
]

TAGS_PARAMETER = "Tags"
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
_NOT_JUDGED = {
    Kind.FINAL: "no FinalDBSnapshotIdentifier, so no final snapshot is made",
    Kind.TAG: "ResourceName is not a snapshot ARN",
    Kind.UNTAG: "ResourceName is not a snapshot ARN",
    Kind.SHARE: "only AttributeName=restore is judged",
}


class ParamError(ValueError):
    """The words given cannot make the call's parameters; the message says why."""


def operation_name(service: str, text: str) -> str:
    """The guarded operation ``text`` names on ``service`` (``CreateDBClusterSnapshot``,
    ``create_db_cluster_snapshot`` and ``create-db-cluster-snapshot`` all work)."""
    name = _SPELLINGS.get(text.lower())
    if name is None:
        guarded = ", ".join(
            n for n, row in operations.OPERATIONS.items() if service in row.services
        )
        raise ParamError(f"{text} is not an operation rds_guard guards (on {service}: {guarded})")
    if operations.find(service, name) is None:
        owners = ", ".join(sorted(operations.OPERATIONS[name].services))
        raise ParamError(f"{name} is not a {service} operation rds_guard guards (it is: {owners})")
    return name


_SPELLINGS = {
    spelling: name
    for name in operations.OPERATIONS
    for spelling in (name.lower(), xform_name(name), xform_name(name, "-"))
}


@lru_cache(maxsize=8)
def _input_members(service: str, operation: str) -> Mapping[str, Any] | None:
    """The operation's input shapes by parameter name (None: botocore does not know it)."""
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
            raise ParamError(f"--param {name} given twice (it takes one value)")
        else:
            built[name] = _scalar(name, kind, text)
    if tags:
        if members is not None and TAGS_PARAMETER not in members:
            raise ParamError(f"{operation} takes no Tags: drop --tag")
        built[TAGS_PARAMETER] = [{"Key": key, "Value": value} for key, value in tags]
    return built


def _member(members: Mapping[str, Any] | None, operation: str, name: str) -> Any:
    if name == TAGS_PARAMETER:
        raise ParamError("give tags with --tag KEY=VALUE, not --param Tags=...")
    if members is None:
        return None
    if name not in members:
        close = difflib.get_close_matches(name, list(members), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else f" (it takes: {', '.join(members)})"
        raise ParamError(f"{operation} has no parameter {name}{hint}")
    return members[name]


def _list_item(name: str, shape: Any, text: str) -> Any:
    item = getattr(getattr(shape, "member", None), "type_name", "string")
    if item != "string":
        raise ParamError(f"--param {name}: a list of {item}s cannot be given on the command line")
    return text


def _scalar(name: str, kind: str, text: str) -> Any:
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in _TRUE | _FALSE:
            raise ParamError(f"--param {name}={text}: expected true or false")
        return lowered in _TRUE
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise ParamError(f"--param {name}={text}: expected a whole number") from None
    if kind in ("structure", "map"):
        raise ParamError(f"--param {name}: a {kind} cannot be given on the command line")
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
    return lines


def _verdict(decision: Decision, policy: Policy) -> str:
    call = f"{decision.service} {decision.operation}"
    if not decision.recorded:
        if decision.service not in policy.services:
            covered = ", ".join(sorted(policy.services))
            why = f"the policy covers {covered}, not {decision.service}"
        else:
            row = operations.OPERATIONS[decision.operation]
            why = _NOT_JUDGED.get(row.kind, "the guard does not judge this call")
        return f"allowed: {call} is not judged ({why}); it would be sent as is"
    if decision.allowed:
        return f"allowed: {call} would be sent with the params below"
    count = len(decision.violations)
    rules = f"{count} rule" + ("" if count == 1 else "s")
    if policy.mode == "enforce":
        return f"blocked: {call} breaks {rules}; in enforce mode it would not be sent"
    return f"not allowed: {call} breaks {rules}; in warn mode it would be logged and sent anyway"


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
    """The region botocore would use for a client made without one (env, config file)."""
    region = botocore.session.Session().get_config_variable("region")
    return region if isinstance(region, str) and region else None
