"""The benchmark harness runs: every benchmark function with tiny counts, no timing asserted.

Benchmarks are not tests (``make bench`` measures); this only keeps bench/ from rotting.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    aio_overhead,
    audit_throughput,
    by_event,
    cold_start,
    import_profile,
    instructions,
    ledger_speed,
    overhead,
    profiles,
    record_encoding,
    report,
    report_per_call,
    run,
    scaling,
    verify_speed,
)
from bench.common import (  # noqa: E402
    Stats,
    alternate,
    machine,
    median_difference_interval,
    summarize,
)
from rds_guard.audit import record as audit_record  # noqa: E402
from rds_guard.guard import hooks  # noqa: E402


def test_summarize_median_and_percentiles() -> None:
    stats = summarize([float(i) for i in range(1, 11)])
    assert stats.median == 5.5 and stats.p90 == 9.0 and stats.p10 == 2.0 and stats.count == 10
    assert Stats.from_dict(stats.as_dict()) == stats


def test_alternate_rotates_the_order_every_round() -> None:
    order: list[str] = []
    sides = [lambda name=name: order.append(name) or 0.0 for name in "ab"]
    samples = alternate(sides, 3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert [len(s) for s in samples] == [3, 3]


def test_median_difference_interval_holds_the_difference() -> None:
    low, high = median_difference_interval([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0])
    assert low <= 1.0 <= high


@pytest.mark.parametrize("name", ["floor", "a", "a+", "b", "c", "d"])
def test_send_case_runs(name: str, tmp_path: Path) -> None:
    result = overhead.send_case(overhead.CASES[name], 4, 1, tmp_path)
    assert result.bare.count == result.guarded.count == 4
    assert result.ratio > 0


@pytest.mark.parametrize("name", ["floor", "a"])
def test_stub_case_runs(name: str, tmp_path: Path) -> None:
    result = overhead.stub_case(overhead.CASES[name], 4, 1, tmp_path)
    assert result.guarded.count == 4


def test_stub_path_refuses_audit_cases(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no audit"):
        overhead.stub_case(overhead.CASES["b"], 1, 0, tmp_path)


def test_guarded_send_path_writes_both_records(tmp_path: Path) -> None:
    overhead.send_case(overhead.CASES["b"], 3, 0, tmp_path)
    log = tmp_path / "overhead-send-b.jsonl"
    events = [line.split('"event":"')[1].split('"')[0] for line in log.read_text().splitlines()]
    assert events == ["requested", "created"] * (3 + 1)  # and the call that matched the bare side


@pytest.mark.parametrize("name", ["a+", "d"])
def test_the_bare_side_sends_what_the_guard_sends(name: str, tmp_path: Path) -> None:
    """The guard adds tags (a+) or inherits them (d): the bare client is given the result."""
    result = overhead.send_case(overhead.CASES[name], 2, 0, tmp_path)
    assert result.body_bytes is not None and result.body_bytes > 0
    assert result.reads == (1 if name == "d" else 0)
    if name == "a+":  # the caller of a sends the policy's tags itself: the same request
        same_size = overhead.send_case(overhead.CASES["a"], 2, 0, tmp_path)
        assert result.body_bytes == same_size.body_bytes


def test_different_requests_are_refused() -> None:
    class Sent:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def body(self) -> bytes:
            return self._body

    with pytest.raises(RuntimeError, match="different requests"):
        overhead.same_request(overhead.CASES["a"], Sent(b"x=1"), Sent(b"x=2"))  # type: ignore[arg-type]


def test_moto_cases_run(tmp_path: Path) -> None:
    with overhead.moto_server() as server:
        for name in ("a", "d"):
            result = overhead.moto_case(server, overhead.CASES[name], 2, 1, tmp_path)
            assert result.guarded.count == 2
            assert (result.read is not None) == (name == "d")


@pytest.mark.parametrize(("path", "name"), [("send", "b"), ("stub", "a")])
def test_profile_finds_the_guards_handlers(path: str, name: str, tmp_path: Path) -> None:
    summary = profiles.profile_case(overhead.CASES[name], 5, tmp_path, top=3, path=path)
    assert 0 < summary.guard_share < 1
    assert any(step.function.startswith("Guard.judge") for step in summary.steps)
    assert summary.by_file and summary.top_guard and len(summary.top_overall) == 3


def test_by_event_finds_the_guards_work_where_it_runs(tmp_path: Path) -> None:
    result = by_event.measure(overhead.CASES["b"], 5, 1, tmp_path)
    events = {e.event: e for e in result.events}
    assert {"before-parameter-build", "request-created", "after-call"} <= set(events)
    # the judgement (nothing of botocore's there) and the outcome record: far above the bare
    # side's handlers at those events, whatever the machine
    assert (
        events["before-parameter-build"].guarded_us > 5 * events["before-parameter-build"].bare_us
    )
    assert events["after-call"].guarded_us > 5 * events["after-call"].bare_us
    # medians of 5 calls: no order between the two sides, but each guarded call's whole
    # time holds its judgement's
    assert result.total.guarded_us >= events["before-parameter-build"].guarded_us
    assert result.total.bare_us > 0
    assert result.between.bare_us > 0  # botocore's serializing and parsing run outside events
    # the control worked at before-parameter-build about as long as the judgement took there
    assert result.control_work_us >= 0.5 * events["before-parameter-build"].guarded_us
    assert result.control_between.bare_us == result.between.bare_us


def test_an_event_emitted_inside_another_counts_to_itself_alone() -> None:
    import botocore.session

    client = overhead.rds_client(botocore.session.Session())
    clock = by_event.EventClock(client)
    events = client.meta.events

    def outer(**_: object) -> None:
        time.sleep(0.02)
        events.emit("inner-event.rds")

    events.register("outer-event.rds", outer)
    events.register("inner-event.rds", lambda **_: time.sleep(0.06))
    clock.take()
    events.emit("outer-event.rds")
    spent = clock.take()
    assert spent["inner-event"] >= 60e6
    assert 20e6 <= spent["outer-event"] < 60e6  # without the inner event's time
    assert clock.take() == {}


def test_a_profile_without_the_handlers_is_refused() -> None:
    with pytest.raises(RuntimeError, match="none of the guard's handlers"):
        profiles.summarize_profile("send", overhead.CASES["a"], 1, {}, 3)


@pytest.mark.parametrize("layout", audit_throughput.LAYOUTS, ids=lambda x: x.label)
def test_throughput_layouts_verify(layout: audit_throughput.Layout, tmp_path: Path) -> None:
    result = audit_throughput.run_layout(layout, fsync=False, records=16, workdir=tmp_path)
    assert result.verified and result.verified_records == result.records == 16
    # the file's size over its records is what the report gives as a record's size
    assert 400 < result.log_bytes / 16 < 1000


def test_record_encoding_compares_the_same_bytes() -> None:
    record = record_encoding.typical_record()
    assert record_encoding.spliced(record)() == audit_record.encode(record)
    # nothing encoded ahead: the splice alone must still give the record's bytes
    assert record_encoding.spliced(record, constant=())() == audit_record.encode(record)
    cost = record_encoding.measure(2, repeat=2)
    assert cost.one_pass_us > 0 and cost.spliced_us > 0
    assert cost.record_bytes == len(audit_record.encode(record))
    audited = overhead.PairResult(
        "send", overhead.CASES["b"], summarize([1.0]), summarize([2.0]), 1.12
    )
    told = report_per_call._explain_miss(audited, [], None, cost)
    assert f"({cost.record_bytes} bytes before its digest) takes {cost.one_pass_us:.1f}" in told
    assert f"it takes {cost.spliced_us:.1f} µs" in told


def test_client_cost_counts_the_guards_handlers(tmp_path: Path) -> None:
    cost = cold_start.measure_client(2, tmp_path)
    assert cost.bare.count == cost.guarded.count == 2
    # counted on a guarded client: four events of each guarded rds operation
    assert cost.handlers == len(hooks.GUARDED["rds"]) * len(hooks.STAGES)
    told = "\n".join(report._client_cost(cost))
    assert f"adds **{cost.added * 1e3:.2f} ms**" in told
    assert f"its {cost.handlers} handlers" in told


def test_verify_speed_runs(tmp_path: Path) -> None:
    result = verify_speed.run_verify(300, tmp_path, small_records=10)
    assert result.function_ok
    assert result.command_child.output.startswith("ok: 300 records")
    assert result.function_child.peak_rss_kib > 0


def test_generated_log_verifies(tmp_path: Path) -> None:
    from rds_guard import audit

    path = tmp_path / "log.jsonl"
    verify_speed.generate_log(path, 25)
    result = audit.verify(path)
    assert result.ok and result.records == 25
    assert list(audit.read_records(path))[-1]["seq"] == 25


def test_scaling_runs() -> None:
    points = scaling.run_scaling(3, 1)
    assert len(points) == len(scaling.RULE_COUNTS) * len(scaling.TAG_COUNTS)
    assert scaling.slope([1, 2, 3], [2, 4, 6]) == pytest.approx(2.0)


def test_cold_start_import_and_install_run(tmp_path: Path) -> None:
    imports = cold_start.measure_import(1)
    assert imports.base.count == imports.other.count == 1 and imports.met is not None
    install = cold_start.measure_install(1, tmp_path)
    assert install.total.count == 1 and install.total.median > 0


def test_cold_start_awscli_runs(tmp_path: Path) -> None:
    with overhead.moto_server() as server:
        results = cold_start.measure_awscli(server, 1, tmp_path)
    assert [c.name for c in results] == [
        "aws rds describe-db-clusters",
        "aws sts get-caller-identity",
    ]
    assert all(c.met is not None for c in results)


def test_importtime_lists_what_rds_guard_adds() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   botocore",
            "import time:       370 |        470 | boto3",
            "import time:        50 |         50 |   rds_guard.core",
            "import time:        20 |         70 | rds_guard",
        ]
    )
    assert import_profile.parse_importtime(stderr) == {
        "rds_guard.core": (50, 50, False),
        "rds_guard": (20, 70, True),
    }
    measured = import_profile.measure_importtime(1)
    assert measured.total_us > 0
    assert any(line.module == "rds_guard.core.policy" for line in measured.lines)
    plugin = import_profile.measure_importtime(1, "awscli.clidriver", "import rds_guard.awscli")
    assert plugin.total_us > 0
    assert not any(line.module == "rds_guard.core.policy" for line in plugin.lines)


def test_importtime_after_a_marker_lists_what_load_policy_imports() -> None:
    stderr = "\n".join(
        [
            "import time:       370 |        470 | boto3",
            "import time:        20 |         70 | rds_guard",
            "-- mark --",
            "import time:        60 |         60 |   tomllib._re",
            "import time:        30 |         90 | tomllib",
        ]
    )
    assert import_profile.parse_importtime(stderr, marker="-- mark --") == {
        "tomllib._re": (60, 60, False),
        "tomllib": (30, 90, True),
    }
    loading = import_profile.measure_load_importtime(1)
    modules = {line.module for line in loading.lines}
    # re2 (not tomllib: coverage, measuring this run's subprocesses, reads its config with it)
    assert "re2" in modules and "boto3" not in modules
    assert loading.total_us > 0


def test_class_cost_counts_the_dataclasses_the_import_creates() -> None:
    cost = import_profile.measure_class_cost(1)
    assert cost.dataclasses >= 20 and cost.enums >= 1
    assert cost.by_frozen == cost.dataclasses  # the import makes none with dataclasses itself
    assert cost.remake_ms > 0 and cost.frozen_us > 0 and cost.plain_us > 0  # no speed asserted
    assert cost.ours_us > 0


def test_aio_path_is_skipped_without_its_environment(tmp_path: Path) -> None:
    with pytest.raises(aio_overhead.Skipped, match="does not exist"):
        aio_overhead.run_in(tmp_path / "no-python", 1, 1, 0, tmp_path)


@pytest.mark.skipif(not aio_overhead.AIO_PYTHON.exists(), reason="no .venv-aio")
def test_aio_path_runs_in_its_environment(tmp_path: Path) -> None:
    rows, versions = aio_overhead.run_in(aio_overhead.AIO_PYTHON, 2, 1, 0, tmp_path)
    assert [name for name, *_ in rows] == list(aio_overhead.CASE_NAMES)
    assert all(bare.count and guarded.count for _, bare, guarded, _, _ in rows)
    assert "aiobotocore" in versions


def test_the_report_goes_where_git_does_not_look() -> None:
    assert run.REPORT.parent.name == ".bench" and run.DOCS_REPORT.parent.name == "docs"
    assert ".bench/" in (ROOT / ".gitignore").read_text().splitlines()


def test_run_quick_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = dataclasses.replace(
        run.QUICK,
        send_calls=2,
        fsync_calls=2,
        stub_calls=2,
        warmup=1,
        profile_calls=3,
        throughput_records=16,
        throughput_fsync_records=4,
        verify_records=200,
        scaling_calls=2,
        import_runs=1,
        install_runs=1,
    )
    monkeypatch.setattr(run, "QUICK", tiny)
    monkeypatch.setattr(run, "isolate_environment", lambda: None)  # conftest isolates already
    # every per-call target missed, so each is explained, whatever two calls' noise gives
    missed = {
        name: dataclasses.replace(case, target=case.target and 0.5)
        for name, case in run.CASES.items()
    }
    monkeypatch.setattr(run, "CASES", missed)
    monkeypatch.setattr(overhead, "STUB_TARGETS", dict.fromkeys(overhead.STUB_TARGETS, 0.5))
    output = tmp_path / "benchmarks.md"
    assert run.main(["--quick", "--no-moto", "--no-aio", "--output", str(output)]) == 0
    text = output.read_text()
    for heading in (
        "## Targets",
        "Per-call overhead",
        "Cold start",
        "Where an import goes",
        "Audit throughput",
        "Verify speed",
        "Scaling",
    ):
        assert heading in text
    assert machine().cpu in text
    assert "What the first `load_policy` imports" in text
    assert "dataclasses again, each as it was made, with its fields and options" in text
    assert re.search(r"a typical `requested` record, \d{3} bytes with its newline", text)
    assert "*aio send*: skipped — not asked for (--no-aio)" in text
    assert "**send (b: audit, fsync = false), by event**" in text
    assert "the bare call with unrelated work, JSON, for" in text
    assert re.search(r"By event \(wall time, no profiler, below\): [^\n]*`before-param", text)
    assert re.search(r"the case adds to case a's .* `after-call` [+-]\d", text)
    assert "### Instructions\n\nNot counted: not asked for." in text
    assert "AWS CLI plugin | – | not run: no moto server (--no-moto)" in text
    targets = text.split("## Targets")[1].split("## 1.")[0].strip().splitlines()[2:]
    assert len(targets) == 7
    assert all(row.endswith(("| met |", "| **missed** |", "| – |")) for row in targets)
    assert report.VERIFY_TARGET == 3.0


def test_ledger_speed_runs(tmp_path: Path) -> None:
    result = ledger_speed.run_ledger(12, tmp_path, workers=4)
    assert result.records == 12 and result.ship_rate > 0 and result.verify_per_100k > 0
    assert any("records/s" in line for line in report._ledger_section(result))


@pytest.mark.skipif(instructions.VALGRIND is None, reason="valgrind is not installed")
def test_an_instruction_count_barely_moves_from_run_to_run() -> None:
    """The instructions of one small program, counted twice, are within 0.01% of each other
    (the same number, as a rule); one that does more counts more; the report's row shows
    both and what the second adds."""
    env = {"PATH": "/usr/bin:/bin"}
    once = instructions.count([sys.executable, "-S", "-c", "pass"], env)
    twice = instructions.count([sys.executable, "-S", "-c", "pass"], env)
    more = instructions.count([sys.executable, "-S", "-c", "sum(range(10**5))"], env)
    assert once > 0 and abs(once - twice) <= once // 10_000 and more > once + once // 100
    found = instructions.Instructions([instructions.InstructionCount("p", "a", "b", once, more)])
    assert found.of("p") is found.counts[0] and found.of("q") is None
    row = instructions.instructions_section(found)[-1]
    assert f"| {once:,} | b | {more:,} | **{more - once:+,}**" in row
    with pytest.raises(RuntimeError, match="failed under callgrind"):
        instructions.count([sys.executable, "-S", "-c", "raise SystemExit(3)"], env)
