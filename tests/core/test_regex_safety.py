"""Catastrophic backtracking: the known shapes are refused at load, and what loads runs fast."""

from __future__ import annotations

import threading

import pytest

import rds_guard
from rds_guard.core.regex_safety import backtracking_risk

CATASTROPHIC = [
    r"^([a-z]+)+-x$",
    r"(a+)+",
    r"(a*)*b",
    r"^(\w+\s?)+$",
    r"^(\d+)*$",
    r"(.*a){12}",
    r"(x+x+)+y",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(a|a)*b",
    r"(a|aa)*b",
    r"^(a|b|ab)*$",
    r"(\w|\d\d)+x",
    r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+$",
]

SAFE = [
    r"^{source}-(daily|manual)-[0-9]{8}$",
    r"^[a-z]+(-[a-z0-9]+)*$",
    r"(\d+\.)+\d+",
    r"^[a-z.]+@example\.com$",
    r"(a|ab)*c",
    r"(?>a+)+x",
    r"(a++)+x",
    r"([a-z]++)+-x",
    r"^CC-[0-9]{4}$",
    r"^dr-.+$",
    r"(daily|manual)+",
    r"(\w|\d)+x",
]

HOSTILE_VALUES = [
    "a" * 255 + "!",
    "a " * 127 + "!",
    "x" * 63 + "-",
    "1." * 120 + "!",
    "ab" * 127 + "!",
]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_pattern_is_refused_at_load(pattern: str) -> None:
    """A tag pattern of a known catastrophic shape is a PolicyError pointing to the way out."""
    toml = f"version = 1\n[tags.patterns]\nowner = '{pattern}'\n"
    with pytest.raises(rds_guard.PolicyError) as caught:
        rds_guard.Policy.from_toml(toml, source="p.toml")
    error = caught.value
    assert (error.key, error.line) == ("tags.patterns.owner", 3)
    assert "(?>" in str(error) and "++" in str(error)


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_naming_pattern_is_refused_at_load(pattern: str) -> None:
    """The naming pattern is checked the same way."""
    toml = f"version = 1\n[naming]\npattern = '{pattern}'\n"
    with pytest.raises(rds_guard.PolicyError, match=r"naming\.pattern"):
        rds_guard.Policy.from_toml(toml)


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_pattern_loads_and_evaluates_fast(pattern: str) -> None:
    """Patterns that load match hostile 256-character values without hanging."""
    policy = rds_guard.Policy.from_toml(
        f"version = 1\n[naming]\npattern = '{pattern}'\n[tags.patterns]\nowner = '{pattern}'\n"
        "[audit]\nenabled = false\n"
    )
    assert backtracking_risk(pattern.replace("{source}", "x")) is None
    decisions: list[rds_guard.Decision] = []

    def evaluate_all() -> None:
        for value in HOSTILE_VALUES:
            decisions.append(
                rds_guard.evaluate(
                    policy,
                    "CreateDBSnapshot",
                    {
                        "DBInstanceIdentifier": "db",
                        "DBSnapshotIdentifier": value,
                        "Tags": [{"Key": "owner", "Value": value}],
                    },
                )
            )

    worker = threading.Thread(target=evaluate_all, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a hang detector, not a speed assertion
    assert not worker.is_alive(), f"evaluation hung on {pattern}"
    assert len(decisions) == len(HOSTILE_VALUES)
    assert all(not d.allowed for d in decisions)
