"""`rds_guard.forks.forked_unseen`: a process forked with the C library's fork alone (uWSGI's
workers without ``py-call-osafterfork``) is told from one forked with ``os.fork``, whose
at-fork hooks run, from the process that imported the package, however late the module that
asks is first imported. Each case in a fresh interpreter: the test forks that one."""

from __future__ import annotations

from audit_helpers import run_python

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
