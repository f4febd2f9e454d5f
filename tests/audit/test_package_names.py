"""The audit package's names stay what they are while its parts are imported lazily: its
``verify`` is the function, whichever of the package's names was asked for first and however
the submodule of the same name was imported. Each case runs in a fresh interpreter (the
package is imported once per process)."""

from __future__ import annotations

import pytest
from audit_helpers import run_python


@pytest.mark.parametrize(
    "first",
    [
        "audit.verify_lines",
        "audit.REASONS",
        "importlib.import_module('rds_guard.audit.verify')",
        "importlib.import_module('rds_guard.audit.ledger.verify')",
    ],
)
def test_verify_is_the_function_whatever_came_first(first: str) -> None:
    done = run_python(
        "import importlib, types\n"
        "from rds_guard import audit\n"
        f"{first}\n"
        "assert not isinstance(audit.verify, types.ModuleType), audit.verify\n"
        "assert callable(audit.verify) and audit.verify.__name__ == 'verify'\n"
    )
    assert done.returncode == 0, done.stderr
