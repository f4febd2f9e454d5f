"""What botocore's parameter validation refuses in a guarded call, in its own words: the guard
judges parameters as botocore validates them, and leaves to botocore what it refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

from ..core.operations import Operation
from ..core.patterns import Lazy
from ..core.rules import Violation
from .reads import Incomplete

DEEPER_THAN_REPORTED = "a value is nested too deep for its validation report to be written"
"""The line `refused` gives for a call whose report runs out of Python's recursion limit."""


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
    try:
        report = validator.validate(params, shape)
        return _problems(report) if report.has_errors() else []
    except RecursionError:
        # A value nested about as deep as Python's limit: on a client that validates,
        # botocore's own validation, a few frames nearer the top of the stack, refuses it in
        # its own words (or fails as it does without the guard), and the call is left to it
        # (`Incomplete`); on one that does not, it is `request.invalid`, as any call that
        # botocore's validation would refuse (`ClientBinding.invalid`).
        return [DEEPER_THAN_REPORTED]
    except Exception as exc:  # a value's own method (its __str__, say) raised: the same
        return [f"a value's own method raised {type(exc).__name__} as its validation was made"]


def unvalidated(client: Any, row: Operation, params: Mapping[str, Any]) -> list[str]:
    """What botocore's validation would refuse in a call of ``client``, which does not
    validate (its serializer sends a name given as bytes, or ``1`` for a flag, as the service
    reads them, not as the guard judges them): only the judged parameters, of an operation the
    guard does not vouch for whole (`refused`)."""
    if not row.vouches_for_every_parameter:
        params = {name: value for name, value in params.items() if name in row.judged}
    return refused(client, row, params)


_PROBLEM_STARTS = ("Invalid ", "Missing required parameter", "Unknown parameter", "Must set one")
"""How each of botocore's validation problems starts (`botocore.validate.ValidationErrors`)."""


def _problems(report: Any) -> list[str]:
    """The problems of botocore's validation ``report``, one each, as its report writes them
    (joined by line breaks, they are its report): a value is written as its ``str()``, which
    may hold line breaks, and all of it belongs to its problem (whose value the guard leaves
    out of the records). Each problem is written apart where the report tells them
    (``_errors``, ``_format_error``), else its lines are put back together by how a problem
    starts."""
    errors, write = getattr(report, "_errors", None), getattr(report, "_format_error", None)
    if isinstance(errors, list) and callable(write):
        return [str(write(error)) for error in errors]
    problems: list[str] = []
    for line in report.generate_report().splitlines():
        if problems and not line.startswith(_PROBLEM_STARTS):
            problems[-1] += "\n" + line
        else:
            problems.append(line)
    return problems


def refuse_presign(past_the_wrapper: bool, refused: Incomplete) -> None:
    """For a presign past the client's method, botocore's own `ParamValidationError` for what
    its validation refuses at the guard's last handler (a later handler could still complete
    it, and the URL would go unjudged: refused, as botocore refuses it when none does); for a
    call, nothing (botocore raises it next)."""
    if past_the_wrapper:
        raise ParamValidationError(report=refused.kwargs["report"]) from None


def invalid(problems: list[str], operation: str) -> tuple[Violation, ...]:
    """A ``request.invalid`` violation for each line of botocore's validation report
    (``problems``), naming the parameter it names (else ``operation``), without its value."""
    return tuple(
        Violation(
            "request.invalid", _parameter_of(problem, operation), None, _without_value(problem)
        )
        for problem in problems
    )


# botocore's report: 'Invalid type for parameter Tags[0].Value, ...', 'Missing required
# parameter in input: "X"', 'Missing required parameter in Tags[0]: "Key"', 'Unknown
# parameter in input: "X", ...' (compiled when first used: only a client that does not
# validate has its report read)
_PARAMETER = Lazy(r'parameter in (?:input|(\S+)): "([^"]+)"|parameter ([^\s,]+)')


def _parameter_of(problem: str, fallback: str) -> str:
    """The parameter a line of botocore's validation report names (``Tags[0].Value``)."""
    found = _PARAMETER.search(problem)
    if found is None:
        return fallback
    within, member, named = found.groups()
    if member is None:
        return str(named)
    return f"{within}.{member}" if within else member


def _without_value(problem: str) -> str:
    """A line of botocore's validation report without the value it quotes: a parameter the
    guard never judges (a ``PreSignedUrl``) may hold a signature, and no record stores one."""
    head, found, rest = problem.partition(", value: ")
    if not found:
        return problem
    for marker in (", type: ", ", valid "):
        if marker in rest:
            return head + marker + rest.rsplit(marker, 1)[1]
    return head
