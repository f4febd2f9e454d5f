"""Installs nest, per target: the newest guard is in force, uninstalling it brings back the
one before, and a target is never unguarded while a Guard of it says it is active."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws import REGION, audit_records, make_cluster, snapshot_tags
from policies import write_policy
from servers import MotoServer

import rds_guard

ONLY = """\
version = 1
[naming]
pattern = "^{prefix}-.*$"
[audit]
enabled = false
"""


def outcome(client: Any, name: str) -> str:
    """``sent`` or ``blocked``: what the guard does to a snapshot called ``name``."""
    try:
        client.create_db_cluster_snapshot(
            DBClusterIdentifier="orders", DBClusterSnapshotIdentifier=name
        )
    except rds_guard.PolicyViolation:
        return "blocked"
    client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
    return "sent"


def in_force(client: Any) -> str | None:
    """Which guard judges ``client``'s calls: "a", "b", or None (unguarded)."""
    found = (outcome(client, "a-1"), outcome(client, "b-1"))
    return {("sent", "blocked"): "a", ("blocked", "sent"): "b", ("sent", "sent"): None}[found]


def session_target() -> tuple[object, Callable[[], Any]]:
    session = boto3.Session(region_name=REGION)
    return session, lambda: session.client("rds")


def client_target() -> tuple[object, Callable[[], Any]]:
    client = boto3.client("rds", region_name=REGION)
    return client, lambda: client


def default_target() -> tuple[object, Callable[[], Any]]:
    from rds_guard.guard.installs import _DEFAULT_SESSION

    return _DEFAULT_SESSION, lambda: boto3.client("rds", region_name=REGION)


TARGETS = {"session": session_target, "client": client_target, "default": default_target}
# every order of two installs and two uninstalls, a installed before b
ORDERS = [
    order
    for order in itertools.permutations(["+a", "+b", "-a", "-b"])
    if order.index("+a") < order.index("-a")
    and order.index("+b") < order.index("-b")
    and order.index("+a") < order.index("+b")
]


def install(target: object, policy: Path) -> rds_guard.Guard:
    from rds_guard.guard.installs import _DEFAULT_SESSION

    if target is _DEFAULT_SESSION:
        return rds_guard.install(policy=policy)
    return rds_guard.install(target, policy=policy)


def policy_of(folder: Path, name: str) -> Path:
    return write_policy(folder / name, ONLY.replace("{prefix}", name))


@pytest.mark.parametrize("order", ORDERS, ids=" ".join)
@pytest.mark.parametrize("kind", TARGETS)
def test_every_interleaving_of_two_installs_and_two_uninstalls(
    moto_inprocess: None, tmp_path: Path, kind: str, order: tuple[str, ...]
) -> None:
    """After every step: at most one guard says it is active; every client the target
    reaches is judged by that one (none active: unguarded). A session reaches the clients it
    made since the first of the guards installed on it now (one made under an install since
    undone, before the stack emptied, is a client made before this install: README, "a
    client created before it is not guarded"); a client install reaches that client."""
    target, new_client = TARGETS[kind]()
    policies = {name: policy_of(tmp_path, name) for name in "ab"}
    make_cluster(new_client())
    guards: dict[str, rds_guard.Guard] = {}
    reached: list[Any] = [new_client()] if kind == "client" else []
    earlier: list[Any] = []  # made under installs all undone since: never guarded again
    for step in order:
        name = step[1]
        if step[0] == "+":
            guards[name] = install(target, policies[name])
        else:
            guards[name].uninstall()
        installed = [
            n for n in "ab" if n in guards and f"-{n}" not in order[: order.index(step) + 1]
        ]
        if installed:
            reached.append(new_client())
        elif kind != "client":  # the last guard left: the next install reaches newer clients
            earlier, reached = earlier + reached, []
        active = [n for n, guard in guards.items() if guard.active]
        assert active == installed[-1:], "the newest install is the one in force"
        for client in reached:
            assert in_force(client) == (active[0] if active else None), (step, kind)
        for client in earlier:
            assert in_force(client) is None, (step, kind)
    assert in_force(new_client()) is None


def test_uninstalling_twice_or_a_suspended_guard_touches_nothing_else(
    moto_inprocess: None, tmp_path: Path
) -> None:
    session = boto3.Session(region_name=REGION)
    a = rds_guard.install(session, policy=policy_of(tmp_path, "a"))
    b = rds_guard.install(session, policy=policy_of(tmp_path, "b"))
    client = session.client("rds")
    make_cluster(client)
    a.uninstall()
    a.uninstall()
    assert b.active and not a.active
    assert in_force(client) == "b"
    b.uninstall()
    b.uninstall()
    assert in_force(client) is None


@pytest.mark.parametrize("first_out", ["default", "direct"])
def test_a_session_guarded_directly_and_as_boto3s_default_is_never_unguarded(
    moto_inprocess: None, tmp_path: Path, first_out: str
) -> None:
    """boto3's default session guarded as the default (a), then directly (b): its clients
    are judged by b; whichever leaves first, the other one judges them, then nothing does."""
    as_default = install(default_target()[0], policy_of(tmp_path, "a"))
    direct = rds_guard.install(boto3._get_default_session(), policy=policy_of(tmp_path, "b"))
    client = boto3.client("rds", region_name=REGION)
    make_cluster(client)
    assert in_force(client) == "b"
    guards = {"default": (as_default, "b"), "direct": (direct, "a")}
    leaving, staying = guards[first_out]
    leaving.uninstall()
    assert in_force(client) == staying
    as_default.uninstall()
    direct.uninstall()
    assert in_force(client) is None


# --- a call in flight while the guards change -------------------------------------------

AUDITED = """\
version = 1
[naming]
pattern = "^{prefix}-.*$"
[tags.forced]
managed-by = "{prefix}"
[audit]
path = "audit.jsonl"
"""


def audited_policy(folder: Path, name: str) -> Path:
    return write_policy(folder / name, AUDITED.replace("{prefix}", name))


def events_of(folder: Path) -> list[tuple[str, str]]:
    """Each record's event and call id, in ``folder``'s log."""
    return [(r["event"], r["call"]) for r in audit_records(folder)]


@pytest.mark.parametrize(
    ("stage", "change"),
    [
        (stage, change)
        for stage in ("before-call", "before-send")
        for change in ("uninstall", "install another")
    ],
)
def test_a_call_in_flight_is_recorded_by_the_guard_that_judged_it(
    moto_server: MotoServer, tmp_path: Path, stage: str, change: str
) -> None:
    """Another thread uninstalls the guard (a ``with install(...)`` block ends) or installs a
    second one on the session while a call is in flight: after the guard judged it, before
    its request is made (``before-call``), or on the wire (``before-send``). The call goes out
    as judged, and the guard that judged it writes both its records, ``requested`` before the
    request, in its own log; the other guard's log gets nothing of it."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
    moto_server.attach(session)
    a = rds_guard.install(session, policy=audited_policy(tmp_path, "a"))
    client = moto_server.client("rds", session=session)
    make_cluster(client)
    other: list[rds_guard.Guard] = []
    seen: list[list[tuple[str, str]]] = []

    def meanwhile(**_: Any) -> None:
        if stage == "before-send":
            seen.append(events_of(tmp_path / "a"))
        if change == "uninstall":
            a.uninstall()
        else:
            other.append(rds_guard.install(session, policy=audited_policy(tmp_path, "b")))

    client.meta.events.register_first(f"{stage}.rds.CreateDBClusterSnapshot", meanwhile)
    client.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="a-1"
    )
    (call,) = {call for _, call in events_of(tmp_path / "a")}
    assert events_of(tmp_path / "a") == [("requested", call), ("created", call)]
    assert seen == ([[("requested", call)]] if stage == "before-send" else [])
    assert events_of(tmp_path / "b") == []
    assert moto_server.count("CreateDBClusterSnapshot") == 1
    assert snapshot_tags(client, "a-1")["managed-by"] == "a"
    for guard in other:
        guard.uninstall()


def test_an_install_while_another_thread_uninstalls_guards_the_sessions_new_clients(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """Thread A leaves its ``with install(session)`` block while thread B installs on the
    same session: B's guard is in force for the clients the session makes next, never a
    guard that says it is active while the session's hooks are gone. botocore's
    ``unregister`` is slowed to hold the uninstall at the moment it removes the hooks."""
    session = boto3.Session(region_name=REGION)
    emitter = session._session
    a = rds_guard.install(session, policy=policy_of(tmp_path, "a"))
    make_cluster(session.client("rds"))
    inside, go = threading.Event(), threading.Event()
    unregister = emitter.unregister

    def slow_unregister(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        go.wait(10)
        return unregister(*args, **kwargs)

    emitter.unregister = slow_unregister
    installed: list[rds_guard.Guard] = []
    leaving = threading.Thread(target=a.uninstall)
    arriving = threading.Thread(
        target=lambda: installed.append(rds_guard.install(session, policy=policy_of(tmp_path, "b")))
    )
    try:
        leaving.start()
        assert inside.wait(10)
        arriving.start()
        arriving.join(0.5)  # it waits for the uninstall to finish, or is done already
        go.set()
        leaving.join(10)
        arriving.join(10)
    finally:
        go.set()
        emitter.unregister = unregister
    (b,) = installed
    assert b.active and not a.active
    assert in_force(session.client("rds")) == "b"
    b.uninstall()
    assert in_force(session.client("rds")) is None


def at_once(work: Callable[[Any], None], args: list[Any]) -> None:
    """``work(arg)`` for each of ``args``, each in a thread, all released together; what any
    of them raised is raised here, and one still running after 30 seconds is a hang."""
    ready = threading.Barrier(len(args))
    raised: list[BaseException] = []

    def run(arg: Any) -> None:
        ready.wait(10)
        try:
            work(arg)
        except BaseException as exc:
            raised.append(exc)

    started = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(30)
    assert not any(thread.is_alive() for thread in started), "a thread hangs"
    if raised:
        raise raised[0]


def test_installs_racing_from_threads_leave_the_newest_in_force_then_nothing(
    moto_inprocess: None, tmp_path: Path
) -> None:
    """Threads install at once on boto3's default session, half of them as the default and
    half directly: once they are all in, the guard in force for the session's clients is the
    one installed last (the highest ``order``), whatever the threads' interleaving; once they
    have all left, from threads too, nothing judges the clients and boto3 is as it was."""
    names = [f"p{index}" for index in range(8)]
    policies = {name: policy_of(tmp_path, name) for name in names}
    original = boto3._get_default_session
    session = original()
    make_cluster(session.client("rds", region_name=REGION))

    def prefixes_let_through() -> list[str]:
        client = boto3.client("rds", region_name=REGION)
        return [name for name in names if outcome(client, f"{name}-1") == "sent"]

    for _ in range(6):
        guards: dict[str, rds_guard.Guard] = {}

        def arrive(index: int, guards: dict[str, rds_guard.Guard] = guards) -> None:
            target = default_target()[0] if index % 2 else session
            guards[names[index]] = install(target, policies[names[index]])

        at_once(arrive, list(range(len(names))))
        assert len(guards) == len(names)
        newest = max(guards, key=lambda name: guards[name].order)
        assert prefixes_let_through() == [newest]
        at_once(rds_guard.Guard.uninstall, list(guards.values()))
        assert not any(guard.active for guard in guards.values())
        assert prefixes_let_through() == names
        assert boto3._get_default_session is original
