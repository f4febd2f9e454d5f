"""`rds_guard.forks.forked_unseen`: a process forked with the C library's fork alone (uWSGI's
workers without ``py-call-osafterfork``) is told from one forked with ``os.fork``, whose
at-fork hooks run, from the process that imported the package, however late the module that
asks is first imported; the package's at-fork hooks, held weakly (`after_fork_in_child`,
`before_fork`); and a fork's wait for the modules a call imports late (`LOADED_WHEN_NEEDED`).
Each case in a fresh interpreter: the test forks that one."""

from __future__ import annotations

import json

from audit_helpers import printed_by, run_python

from rds_guard.forks import LOADED_WHEN_NEEDED

# what each child prints, then the parent, after the fork the argument names
_CODE = """\
import os, sys
from audit_helpers import unhooked_fork  # the C fork, as uWSGI's: no at-fork hook runs
import rds_guard  # the package alone: the process a later fork is told from
fork = unhooked_fork if sys.argv[1] == "c" else os.fork
pid = fork()
from rds_guard.forks import forked_unseen  # first asked for after the fork
if pid == 0:
    print("child", forked_unseen(), flush=True)
    grandchild = os.fork()  # its hooks run: a grandchild is seen, whatever its parent was
    if grandchild == 0:
        print("grandchild", forked_unseen(), flush=True)
        os._exit(0)
    os.waitpid(grandchild, 0)
    os._exit(0)
os.waitpid(pid, 0)
print("parent", forked_unseen(), flush=True)
"""


def test_a_c_fork_is_told_from_the_importer_and_an_os_fork_is_not() -> None:
    unseen = run_python(_CODE, "c", timeout=60)
    assert unseen.returncode == 0, unseen.stderr
    assert unseen.stdout.splitlines() == ["child True", "grandchild False", "parent False"]
    seen = run_python(_CODE, "os", timeout=60)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.splitlines() == ["child False", "grandchild False", "parent False"]


_HOOKS = """\
import gc, os, sys
from rds_guard.forks import after_fork_in_child

def kept() -> None:
    print("kept", os.getpid() != parent, flush=True)

def dropped() -> None:
    print("dropped", flush=True)

parent = os.getpid()
after_fork_in_child(kept)
after_fork_in_child(dropped)
del dropped
gc.collect()
try:
    after_fork_in_child(print.__call__)
except TypeError as error:
    print("refused", error, flush=True)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("parent", flush=True)
"""


def test_a_hook_runs_in_each_forked_child_while_its_function_lives() -> None:
    """`after_fork_in_child` holds its hook weakly: called in the child (not the parent) while
    the function lives, not at all once it is gone; a bound method, which would be gone at
    once, is refused."""
    done = run_python(_HOOKS, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused an at-fork hook held weakly must be a function")
    assert lines[1:] == ["kept True", "parent"]
    assert done.stderr == ""


_KEPT_ALIVE = """\
import gc, sys, weakref
import boto3
from rds_guard import install
import rds_guard.audit.record, rds_guard.audit.writer
from rds_guard.audit import record, writer
probes = [weakref.ref(record._after_fork_in_child), weakref.ref(writer._after_fork_in_child)]
del record, writer
for name in [m for m in sys.modules if m == "rds_guard" or m.startswith("rds_guard.")]:
    del sys.modules[name]
del install, rds_guard
gc.collect()
print([probe() is None for probe in probes])
"""


def test_the_package_s_at_fork_hooks_keep_none_of_its_modules_alive() -> None:
    """What the interpreter holds to its very end (its at-fork hooks) holds none of the
    package's modules that register one (`rds_guard.forks`, which holds the hooks weakly,
    aside): once they are dropped and collected, nothing of theirs is left (a hook held there
    kept its module's globals, and every module they reach, alive through the interpreter's
    clearing of modules, a slower exit)."""
    assert printed_by(_KEPT_ALIVE, timeout=60) == ["[True, True]"]


_FORK_DURING_FIRST_JUDGE = """\
import os, signal, sys, threading, time
import rds_guard
policy = rds_guard.Policy.from_toml("version = 1\\n[deletion]\\nminimum_age_days = 7\\n")
delete = ("DeleteDBClusterSnapshot", {"DBClusterSnapshotIdentifier": "orders-1"})
inside = threading.Event()

def slowly(frame, event, arg):
    # the thread stays inside the delete judge's module body, holding its import lock
    if event == "call" and frame.f_code.co_name == "<module>":
        if frame.f_code.co_filename.endswith(os.path.join("core", "deletion.py")):
            inside.set()
            time.sleep(0.3)

def first_delete():
    sys.settrace(slowly)
    print("thread", rds_guard.evaluate(policy, *delete).allowed, flush=True)

thread = threading.Thread(target=first_delete)
thread.start()
assert inside.wait(10)
pid = os.fork()
if pid == 0:
    signal.alarm(10)  # a child waiting for ever on the import lock ends here
    print("child", rds_guard.evaluate(policy, *delete).allowed, flush=True)
    os._exit(0)
thread.join()
_, status = os.waitpid(pid, 0)
print("child status", status, flush=True)
"""


def test_a_fork_while_a_thread_first_imports_a_judge_gives_the_child_it_whole() -> None:
    """A thread making the process's first delete judgement imports its module; a fork
    meanwhile waits for that import to finish (`forks.LOADED_WHEN_NEEDED`), so the child's
    own first delete is judged, where it waited for ever on the import lock of a thread it
    does not have."""
    lines = printed_by(_FORK_DURING_FIRST_JUDGE, timeout=60)
    assert sorted(lines) == ["child True", "child status 0", "thread True"], lines


def test_the_modules_loaded_when_needed_are_not_loaded_with_the_guard() -> None:
    """`forks.LOADED_WHEN_NEEDED` names modules a guard's import leaves for later (so a fork
    has them to wait for), each one that exists."""
    code = (
        "import sys, importlib.util, boto3\n"
        "from rds_guard import install\n"
        "from rds_guard.forks import LOADED_WHEN_NEEDED\n"
        "print([name in sys.modules for name in LOADED_WHEN_NEEDED])\n"
        "print([importlib.util.find_spec(name) is not None for name in LOADED_WHEN_NEEDED])\n"
    )
    assert printed_by(code, timeout=60) == [str([False] * 5), str([True] * 5)]


_IMPORTED_LATER = """\
import ast, importlib.util, json, sys
import boto3
from rds_guard import install
loaded = set(sys.modules)

def targets(node, package):
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        base = importlib.util.resolve_name(base, package) if node.level else base
        return [base] if node.module else [f"{base}.{alias.name}" for alias in node.names]
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_imported_when_called":
        return [importlib.util.resolve_name(node.args[0].value, package)]
    return []

later = set()
for name in [m for m in loaded if m == "rds_guard" or m.startswith("rds_guard.")]:
    path = sys.modules[name].__file__
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    tree = ast.parse(open(path, encoding="utf-8").read())
    functions = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
    inner = {id(node) for function in functions for node in ast.walk(function)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) or id(node) in inner:
            later.update(t for t in targets(node, package) if t not in loaded)
print(json.dumps(sorted(later)))
"""

_NOT_A_CALL_S = {
    "rds_guard.audit.ledger.location": "a ledger's clients, made by install",
    "rds_guard.audit.ledger.spool": "a ledger's shipping, set up by install",
    "rds_guard.core.positions": "a policy's load (where a key stands)",
    "rds_guard.core.schema": "a policy's load",
    "re2": "a policy's load (its regular expressions compiled)",
    "rds_guard.guard.aio": "an async client's binding, made with the client",
}


def test_every_module_a_guarded_call_imports_late_is_one_a_fork_waits_for() -> None:
    """What `forks.LOADED_WHEN_NEEDED` promises, tried against the package's own code: every
    module that the guard's modules import inside a function, or resolve at a judge's first
    call, and that the guard's import leaves for later, is one a fork waits for, unless it
    is imported by install, a policy's load or an async client's making (`_NOT_A_CALL_S`):
    a late import added on a call's path without being listed fails here."""
    (printed,) = printed_by(_IMPORTED_LATER, timeout=60)
    later = set(json.loads(printed))
    assert later - set(_NOT_A_CALL_S) == set(LOADED_WHEN_NEEDED)
    assert set(_NOT_A_CALL_S) <= later  # each exemption still names a late import
