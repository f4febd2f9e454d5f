"""What botocore's parameter validation refuses in a guarded call, in its own words: the guard
judges parameters as botocore validates them, and leaves to botocore what it refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

from .. import wire
from ..core.operations import Operation
from ..core.rules import Violation, shown
from .reads import Incomplete


def refused(
    client: Any, row: Operation, params: Mapping[str, Any], *, generated: bool = True
) -> list[str]:
    """The lines of botocore's validation report on a call of ``row`` (empty: none), by the
    client's own validator, or one of botocore's when the client does not validate (or is
    gone: None). A missing name counts as given when ``generated`` (the policy's
    ``naming.generate`` fills it in, or the guard judges it missing itself)."""
    if client is None:
        return []
    shape = client.meta.service_model.operation_model(row.name).input_shape
    if shape is None:
        return []
    name = row.identifier
    if generated and name is not None and name in shape.members and params.get(name) is None:
        params = {**params, name: "generated"}  # its value is the decision's to judge
    serializer = getattr(client, "_serializer", None)
    validator = getattr(serializer, "_param_validator", None) or ParamValidator()
    report = validator.validate(params, shape)
    return report.generate_report().splitlines() if report.has_errors() else []


def mistyped(client: Any, row: Operation, sent: Mapping[str, Any]) -> Violation | None:
    """``request.changed`` for a parameter a request carries as text where botocore sends a
    flag or a number (``true``, digits): put there by another handler (``True``, ``1``, ``1.5``),
    it is read by the service in a way the guard cannot know, so it cannot be judged. None
    when every parameter read is of its shape's type."""
    shape = client.meta.service_model.operation_model(row.name).input_shape
    for name, value in sent.items():
        if isinstance(value, str) and shape.members[name].type_name in wire.CONVERTED:
            return Violation(
                "request.changed",
                name,
                shown(value),
                f"sent as text by another handler after rds_guard judged a call of {row.name};"
                f" botocore sends a {shape.members[name].type_name} as true, false or digits,"
                " and how the service reads other text cannot be judged",
            )
    return None


def unread_keys(
    row: Operation, body: Mapping[str, Any], readers: wire.Readers, values: Mapping[str, Any]
) -> Violation | None:
    """``request.changed`` for a judged parameter under whose key the request holds keys
    botocore never writes (`wire.unread`): another handler's, never read by the guard, which
    the service may read as part of it. None when there are none."""
    name = wire.unread(body, readers, values)
    if name is None:
        return None
    return Violation(
        "request.changed",
        name,
        None,
        "holds keys botocore never writes for it, put there by another handler after"
        f" rds_guard judged a call of {row.name}: how the service reads them cannot be judged",
    )


def refuse_presign(past_the_wrapper: bool, refused: Incomplete) -> None:
    """For a presign past the client's method, botocore's own `ParamValidationError` for what
    its validation refuses at the guard's last handler (a later handler could still complete
    it, and the URL would go unjudged: refused, as botocore refuses it when none does); for a
    call, nothing (botocore raises it next)."""
    if past_the_wrapper:
        raise ParamValidationError(report=refused.kwargs["report"]) from None
