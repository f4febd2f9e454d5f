"""Where a client's guard handlers go: on the emitter behind botocore's `EventAliaser`, under
the names the aliaser would give them (translated once per process, without asking the
aliaser for a name that holds none of its old names), past the emitter's check of each
handler's signature; an aliaser with a table of old names of its own, or an emitter of a class
of its own, is registered on as it is, and the guard still judges every call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws import make_cluster
from botocore.compat import accepts_kwargs
from botocore.hooks import EventAliaser, HierarchicalEmitter
from botocore.utils import EVENT_ALIASES
from hypothesis import given
from hypothesis import strategies as st
from policies import STRICT
from servers import MotoServer

import rds_guard
from rds_guard.guard import hooks


def test_names_are_translated_as_botocores_aliaser_translates_them() -> None:
    events = EventAliaser(HierarchicalEmitter())
    target, named = hooks._registrar(events)
    assert target._emitter is events._emitter
    for name in (
        "before-call.autoscaling.DescribeTags",  # a name botocore's table changes
        "before-parameter-build.rds.CreateDBSnapshot",  # the guard's, which it keeps
        "request-created.neptune",
    ):
        assert named(name) == EventAliaser(HierarchicalEmitter())._alias_event_name(name)
    assert named("before-call.autoscaling.DescribeTags") == "before-call.auto-scaling.DescribeTags"


def test_an_emitter_without_the_private_registers_is_registered_on_through_its_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A botocore whose emitter had no ``_register`` or ``_register_last``: the guard's
    handlers go through its ``register``, botocore's checks and all."""
    monkeypatch.setattr(hooks, "_UNCHECKED_REGISTERS", False)
    events = EventAliaser(HierarchicalEmitter())
    target, named = hooks._registrar(events)
    assert target is events._emitter
    with pytest.raises(ValueError):  # botocore's check of a handler without **kwargs
        target.register(named("request-created.rds"), lambda: None, unique_id="y")


def test_an_aliaser_whose_table_has_changed_since_is_registered_on_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """botocore's own table given one more old name after rds_guard was imported: an aliaser
    holding it translates names the shortcut would take for unchanged, so it is asked."""
    monkeypatch.setitem(EVENT_ALIASES, "rds", "relational-database")
    events = EventAliaser(HierarchicalEmitter())
    assert events._event_aliases is EVENT_ALIASES
    target, named = hooks._registrar(events)
    assert target is events and named("request-created.rds") == "request-created.rds"
    target.register(named("request-created.rds"), lambda **_: None, unique_id="x")
    assert list(events._emitter._unique_id_handlers) == ["x"]
    assert events._emitter._handlers.prefix_search("request-created.relational-database")


def test_a_guarded_clients_handlers_are_those_the_aliaser_would_have_placed(
    tmp_path: Path,
) -> None:
    """The guard's unique ids and the handlers found under each event name of a guarded
    operation, on a client hooked past its aliaser and on one hooked through it (its table
    has one more old name, which no event name holds), are the same."""
    session = botocore.session.Session()
    past = session.create_client("rds", region_name="us-east-1")
    through = session.create_client("rds", region_name="us-east-1")
    through.meta.events._event_aliases = {**EVENT_ALIASES, "no-such-service": "none"}
    assert hooks._registrar(through.meta.events)[0] is through.meta.events
    policy = rds_guard.Policy.from_toml(STRICT)
    for client in (past, through):
        rds_guard.install(client, policy=policy, audit_path=tmp_path / "audit.jsonl")

    def ours(client: Any) -> set[str]:
        return {
            key for key in client.meta.events._emitter._unique_id_handlers if "rds_guard" in key
        }

    guarded = len(hooks.GUARDED["rds"])
    # each operation's stages, the last handler, `every`'s
    placed = len(hooks.STAGES) * guarded + 1 + len(hooks.EVERY_STAGES)
    assert ours(past) == ours(through) and len(ours(past)) == placed
    for stage in [stage for stage, _ in hooks.STAGES]:
        for name in hooks.GUARDED["rds"]:
            event = f"{stage}.rds.{name}"
            found = [
                [
                    getattr(h, "__qualname__", "")
                    for h in c.meta.events._emitter._handlers.prefix_search(event)
                ]
                for c in (past, through)
            ]
            assert found[0] == found[1], event


def test_a_client_whose_aliaser_has_a_table_of_its_own_is_still_guarded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """An aliaser whose table renames ``rds`` in every event name, beside a client with
    botocore's table hooked first: the guard's handlers go through it, under the names it
    emits, and a call the policy forbids is never sent, from either client."""
    policy = rds_guard.Policy.from_toml(STRICT)
    usual, own = moto_server.client("rds"), moto_server.client("rds")
    make_cluster(usual)
    own.meta.events._event_aliases = {**EVENT_ALIASES, "rds": "relational-database"}
    for client in (usual, own):
        rds_guard.install(client, policy=policy, audit_path=tmp_path / "audit.jsonl")
    moto_server.reset_counts()
    for client in (usual, own):
        with pytest.raises(rds_guard.PolicyViolation):
            client.create_db_cluster_snapshot(
                DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="test2"
            )
    assert moto_server.count("CreateDBClusterSnapshot") == 0


@pytest.mark.parametrize("traced", ["aliaser", "emitter"])
def test_an_aliaser_or_emitter_of_a_class_of_its_own_is_registered_on_through_it(
    traced: str,
) -> None:
    """A subclass of `EventAliaser`, or of the emitter behind botocore's own aliaser
    (aiobotocore's, one that traces or instruments), may do more as it registers: the guard's
    handlers go through its own ``register``, botocore's checks and all, not past it."""
    seen: list[str] = []
    base: Any = EventAliaser if traced == "aliaser" else HierarchicalEmitter

    class Tracing(base):  # type: ignore[misc]
        def register(self, event_name: str, *args: Any, **kwargs: Any) -> None:
            seen.append(event_name)
            super().register(event_name, *args, **kwargs)

    events = Tracing(HierarchicalEmitter()) if traced == "aliaser" else EventAliaser(Tracing())
    target, named = hooks._registrar(events)
    assert target is (events if traced == "aliaser" else events._emitter)
    target.register(named("request-created.rds"), lambda **_: None, unique_id="x")
    assert seen == ["request-created.rds"]
    with pytest.raises(ValueError):  # botocore's check of a handler without **kwargs
        target.register(named("request-created.rds"), lambda: None, unique_id="y")


_PARTS = st.sampled_from(
    [
        *EVENT_ALIASES,
        *[old.replace(".", "") for old in EVENT_ALIASES if "." in old],
        *["rds", "docdb", "neptune", "before-call", "request-created", "CreateDBSnapshot", "x"],
    ]
)


@given(st.lists(st.one_of(_PARTS, st.text("abc.-", max_size=6)), min_size=1, max_size=5))
def test_a_name_is_translated_to_what_a_new_aliaser_makes_of_it(parts: list[str]) -> None:
    """Old names whole, dotted ones split or run together, among other parts: the shortcut
    for a name holding no old name gives what botocore's aliaser, with an empty cache, does."""
    name = ".".join(parts)
    expected = EventAliaser(HierarchicalEmitter())._alias_event_name(name)
    asked: list[str] = []

    def alias(event: str) -> str:
        asked.append(event)
        return EventAliaser(HierarchicalEmitter())._alias_event_name(event)

    assert hooks.translated(name, alias) == expected
    if expected != name:
        assert asked == [name]


def test_the_guards_names_need_no_aliaser() -> None:
    """None of the event names the guard registers holds an old name: none is looked up."""
    for service, names in hooks.GUARDED.items():
        for event in [f"{stage}.{service}.{name}" for stage, _ in hooks.STAGES for name in names]:
            assert hooks.translated(event, lambda _: "looked up") == event


@pytest.mark.parametrize("service", sorted(hooks.GUARDED))
def test_every_handler_placed_past_the_check_is_one_it_would_pass(
    service: str, tmp_path: Path
) -> None:
    """Each handler the guard, or its stand-ins, put past the emitter's signature check
    takes ``**kwargs``, as botocore's check (`accepts_kwargs`) requires of a handler."""
    session = botocore.session.Session()
    guarded = session.create_client(service, region_name="us-east-1")
    rds_guard.install(guarded, policy=rds_guard.Policy.from_toml(STRICT), audit_path=tmp_path / "a")
    standing = session.create_client(service, region_name="us-east-1")
    hooks.StandIns(standing, lambda _: None)
    for client in (guarded, standing):
        placed = {
            key: item["handler"]
            for key, item in client.meta.events._emitter._unique_id_handlers.items()
            if key.startswith(hooks.HOOK_ID)
        }
        stages = len(hooks.STAGES) * len(hooks.GUARDED[service])
        assert len(placed) == stages + 1 + len(hooks.EVERY_STAGES)
        for key, handler in placed.items():
            assert accepts_kwargs(handler), key
