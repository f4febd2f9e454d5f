"""`wire.carries`, the request check of the usual call, against the read it stands in for.

`carries` says a body carries what was judged, and no key under a judged parameter's that
the judgement does not hold, without reading the parameters out of it. It may say no when it
cannot tell (the body is then read), never yes where `sent_params` and `same` would find a
difference, or `unread` a key: these tests hold it to that, on bodies botocore's own
serializer makes from every guarded operation's judged parameters, and on the same bodies
and judgements changed the ways another handler or a caller's objects could change them.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from rds_guard import wire
from rds_guard.core.operations import OPERATIONS
from rds_guard.guard.hooks import GUARDED

SERVICE = botocore.session.get_session().get_service_model("rds")
SERIALIZER = create_serializer("query", include_validation=False)
ROWS = sorted(GUARDED["rds"])

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
SETTINGS = settings(max_examples=150, deadline=None)


def shaped(shape: Any) -> st.SearchStrategy[Any]:
    """Values of a parameter shape, as botocore validates them."""
    kind = shape.type_name
    if kind == "structure":
        members = {name: shaped(member) for name, member in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if kind == "list":
        return st.lists(shaped(shape.member), max_size=4)
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "long"):
        return st.integers(-5, 40)
    return TEXT


@st.composite
def judged_calls(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    """A guarded operation's readers and judged parameters, some of them given."""
    name = draw(st.sampled_from(ROWS))
    shape = SERVICE.operation_model(name).input_shape
    members = {n: shape.members[n] for n in OPERATIONS[name].judged if n in shape.members}
    params = draw(st.fixed_dictionaries({}, optional={n: shaped(m) for n, m in members.items()}))
    return (name, wire.readers(shape, OPERATIONS[name].judged)), params


def body_of(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The flat body botocore's query serializer makes of ``params``."""
    request = SERIALIZER.serialize_to_request(params, SERVICE.operation_model(name))
    body: dict[str, Any] = request["body"]
    return body


def agrees(body: dict[str, Any], readers: wire.Readers, judged: dict[str, Any]) -> None:
    """`carries` says yes only where reading the body finds the judgement, and no key the
    judgement does not hold."""
    if wire.carries(body, readers, judged):
        assert wire.same(judged, wire.sent_params(body, readers)), (body, judged)
        assert wire.unread(body, readers, judged) is None, (body, judged)


@SETTINGS
@given(judged_calls())
def test_a_body_botocore_serialized_from_the_judgement_carries_it(
    call: tuple[tuple[str, wire.Readers], dict[str, Any]],
) -> None:
    (name, readers), params = call
    body = body_of(name, params)
    read = wire.sent_params(body, readers)
    agrees(body, readers, params)
    if wire.same(params, read):  # an empty list, say, is sent as no list at all
        assert wire.carries(body, readers, params)
        assert wire.unread(body, readers, params) is None  # botocore wrote no key unread


@SETTINGS
@given(judged_calls())
def test_as_written_is_what_is_read_of_what_botocore_writes(
    call: tuple[tuple[str, wire.Readers], dict[str, Any]],
) -> None:
    (name, readers), params = call
    assert wire.sent_params(body_of(name, params), readers) == wire.as_written(params)


@pytest.mark.parametrize(
    ("params", "written"),
    [
        ({"Tags": [{}]}, {}),
        ({"Tags": [{}, {"Key": "team"}]}, {}),  # read up to the first item written as none
        ({"Tags": [{"Key": "team"}, {}]}, {"Tags": [{"Key": "team"}]}),
        ({"Tags": []}, {"Tags": []}),
        ({"Tags": [{"Key": "team", "Value": ""}]}, {"Tags": [{"Key": "team", "Value": ""}]}),
        ({"TagKeys": ["a", ""]}, {"TagKeys": ["a", ""]}),
    ],
)
def test_as_written_drops_only_what_botocore_writes_as_nothing(
    params: dict[str, Any], written: dict[str, Any]
) -> None:
    assert wire.as_written(params) == written
    operation = "RemoveTagsFromResource" if "TagKeys" in params else "CreateDBClusterSnapshot"
    readers = wire.readers(SERVICE.operation_model(operation).input_shape, params)
    assert wire.sent_params(body_of(operation, params), readers) == written


def changes(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``body`` as another handler could leave it: a key dropped, a value changed (in case
    only, to a number, to text), an item added past the last, a list made empty."""
    keys = sorted(body)
    edits: list[st.SearchStrategy[dict[str, Any]]] = [
        st.sampled_from(["Tags", "TagKeys", "ValuesToAdd"]).map(lambda k: {**body, k: ""}),
        st.builds(lambda k, v: {**body, k: v}, TEXT.map(lambda t: f"Tags.Tag.{len(t)}.Key"), TEXT),
    ]
    if keys:
        pick = st.sampled_from(keys)
        edits += [
            pick.map(lambda k: {n: v for n, v in body.items() if n != k}),
            st.builds(lambda k, v: {**body, k: v}, pick, TEXT | st.integers() | st.booleans()),
            pick.map(lambda k: {**body, k: str(body[k]).swapcase()}),
            pick.map(lambda k: {**body, k.rsplit(".", 1)[0] + ".9": "x"}),
        ]
    return st.one_of(edits)


@SETTINGS
@given(judged_calls(), st.data())
def test_a_changed_body_is_never_taken_for_the_judgement(
    call: tuple[tuple[str, wire.Readers], dict[str, Any]], data: st.DataObject
) -> None:
    (name, readers), params = call
    sent = body_of(name, params)
    body = data.draw(changes(sent))
    agrees(body, readers, params)
    if wire.carries(body, readers, params):
        assert judged_keys(body, readers) == judged_keys(sent, readers), "a key added is seen"


def judged_keys(body: dict[str, Any], readers: wire.Readers) -> set[str]:
    """The keys of ``body`` under a judged parameter's, in any case."""
    under = {key.lower() for _, key, _, _ in readers}
    return {key for key in body if key.split(".", 1)[0].lower() in under}


class Lying(str):
    """A string that says it equals anything."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        return True


@pytest.mark.parametrize(
    "judged",
    [
        {"DBClusterSnapshotIdentifier": Lying("other")},
        {"DBClusterSnapshotIdentifier": "snap", "Tags": ({"Key": "env", "Value": "prod"},)},
        {"DBClusterSnapshotIdentifier": "snap", "Tags": [{"Key": "env", "Value": Lying("qa")}]},
        {"DBClusterSnapshotIdentifier": "snap", "Tags": [{Lying("Key"): "env", "Value": "prod"}]},
        {"DBClusterSnapshotIdentifier": "snap", "Tags": [{"Key": "env", "Value": "prod", "X": 1}]},
        {"DBClusterSnapshotIdentifier": "snap", "Tags": []},  # the body has tags
        {"DBClusterSnapshotIdentifier": "snap", "Tags": [{}]},
        {"DBClusterSnapshotIdentifier": "snap", "Unjudged": "x"},
    ],
    ids=[
        "a-string-equal-to-anything",
        "a-tuple",
        "a-value-equal-to-anything",
        "a-key-equal-to-anything",
        "a-field-no-tag-has",
        "no-tags-where-the-body-has-some",
        "an-empty-tag",
        "a-parameter-not-read",
    ],
)
def test_a_judgement_of_other_types_is_left_to_the_read(judged: dict[str, Any]) -> None:
    name = "CreateDBClusterSnapshot"
    readers = wire.readers(SERVICE.operation_model(name).input_shape, OPERATIONS[name].judged)
    body = {
        "Action": name,
        "DBClusterSnapshotIdentifier": "snap",
        "Tags.Tag.1.Key": "env",
        "Tags.Tag.1.Value": "prod",
    }
    assert not wire.carries(body, readers, judged)


@pytest.mark.parametrize(
    "extra",
    [
        {"Tags.Tag.2.Key": "owner"},
        {"Tags.Tag.2.Value": "ann"},
        {"Tags": ""},
        {"Tags.Tag.1.Value": "qa"},
        {"DBClusterIdentifier": "orders"},
        {"Tags.Tag.0.Key": "owner"},
        {"Tags.Tag.9.Key": "owner"},
        {"Tags.member.1.Key": "owner"},
        {"tags.Tag.2.Key": "owner"},
        {"Tags.Tag.1.Other": "x"},
        {"dbclustersnapshotidentifier.x": "other"},
    ],
    ids=[
        "a-tag-added",
        "a-value-alone-added",
        "the-list-emptied",
        "a-value-changed",
        "a-source",
        "a-tag-at-zero",
        "a-tag-after-a-gap",
        "a-tag-of-another-name",
        "a-tag-in-another-case",
        "a-field-no-tag-has",
        "under-the-name-in-another-case",
    ],
)
def test_a_body_carrying_more_or_other_does_not_carry_the_judgement(extra: dict[str, str]) -> None:
    name = "CreateDBClusterSnapshot"
    readers = wire.readers(SERVICE.operation_model(name).input_shape, OPERATIONS[name].judged)
    judged = {"DBClusterSnapshotIdentifier": "snap", "Tags": [{"Key": "env", "Value": "prod"}]}
    body = body_of(name, judged)
    assert wire.carries(body, readers, judged)
    assert not wire.carries(body | extra, readers, judged)


@pytest.mark.parametrize("text", ["²", "٣", "--0", "1.5", "0x1"])
def test_a_number_sent_as_other_text_is_read_as_text(text: str) -> None:
    """Only ASCII digits are a number, as botocore writes one: other text (digits of another
    script, a superscript int() refuses) is read as the text it is, never raising, and the
    guard holds it as text where a number belongs (`request.changed`)."""
    name = "ModifyDBInstance"
    readers = wire.readers(SERVICE.operation_model(name).input_shape, OPERATIONS[name].judged)
    body = {"Action": name, "DBInstanceIdentifier": "db1", "BackupRetentionPeriod": text}
    assert wire.sent_params(body, readers)["BackupRetentionPeriod"] == text
    assert not wire.carries(
        body, readers, {"DBInstanceIdentifier": "db1", "BackupRetentionPeriod": 3}
    )


FLAGGED = [
    (name, flag)
    for name in ROWS
    for flag in wire.readers(
        SERVICE.operation_model(name).input_shape, OPERATIONS[name].judged
    ).flags
]
GIVEN_FOR_A_FLAG = st.one_of(
    st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), TEXT, st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(TEXT, TEXT, max_size=2),
)  # fmt: skip


@SETTINGS
@given(st.sampled_from(FLAGGED), GIVEN_FOR_A_FLAG)
def test_a_flag_botocore_writes_from_another_value_is_written_as_judged(
    flagged: tuple[str, str], given: Any
) -> None:
    """A client that does not validate sends the truth of any value given for a flag: read
    back, it is what botocore writes of the value judged (no one's change, `written_as`), and
    its opposite is not."""
    name, flag = flagged
    readers = wire.readers(SERVICE.operation_model(name).input_shape, OPERATIONS[name].judged)
    sent = wire.sent_params(body_of(name, {flag: given}), readers)[flag]
    assert sent is bool(given)
    assert wire.written_as(readers, flag, given, sent)
    assert not wire.written_as(readers, flag, given, not sent)


def test_a_name_given_as_no_text_is_not_written_as_judged() -> None:
    """Only a flag's truth is botocore's writing: a name judged as ``True`` and sent as
    ``True`` (text) is other text than the one judged."""
    name = "DeleteDBClusterSnapshot"
    readers = wire.readers(SERVICE.operation_model(name).input_shape, OPERATIONS[name].judged)
    assert not wire.written_as(readers, "DBClusterSnapshotIdentifier", "snap", True)
    assert not wire.written_as(readers, "DBClusterSnapshotIdentifier", True, "True")
    assert wire.written_as(readers, "DBClusterSnapshotIdentifier", "snap", "snap")
