"""``rds-guard audit head``, ``verify --checkpoint/--policy/--json``, ``repair --dry-run/--force
/--json``: the command's side of the audit trail that holds against someone who can write
the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_helpers import lines_of, make_log, write_lines
from cli_helpers import assert_one_error_line, run_main
from policies import write_policy

KEY = "sécret"
KEYED_POLICY = 'version = 1\n[audit]\nhmac_key_env = "AUDIT_KEY"\n'


def test_head_prints_where_the_log_stands(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    head = make_log(log_path, 4)
    done = run_main(capsys, "audit", "head", str(log_path))
    assert (done.code, done.out, done.err) == (0, f"4:{head}\n", "")
    done = run_main(capsys, "audit", "head", str(log_path), "--json")
    assert done.json() == {"seq": 4, "head": head}


@pytest.mark.parametrize("json", [False, True])
def test_head_of_a_log_with_no_record_prints_no_checkpoint(
    capsys: pytest.CaptureFixture[str], log_path: Path, json: bool
) -> None:
    """An empty log stands nowhere: "0:000..." would be a checkpoint `verify --checkpoint`
    refuses (a seq starts at 1), kept somewhere safe for nothing. One error line, exit 2."""
    log_path.write_bytes(b"")
    done = run_main(capsys, "audit", "head", str(log_path), *(["--json"] if json else []))
    assert_one_error_line(done, f"{log_path} holds no record yet")


def test_a_grown_log_passes_its_checkpoint_and_a_rewritten_one_fails(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 4)
    checkpoint = run_main(capsys, "audit", "head", str(log_path)).out.strip()
    make_log(log_path, 3, snapshot="later")  # the log grows
    done = run_main(capsys, "audit", "verify", str(log_path), "--checkpoint", checkpoint)
    assert done.code == 0 and done.out.startswith("ok: 7 records")
    # rebuild a valid chain from scratch with one record changed: only the checkpoint tells
    lines = lines_of(log_path)
    log_path.unlink()
    make_log(log_path, 7, snapshot="rebuilt")
    assert run_main(capsys, "audit", "verify", str(log_path)).code == 0
    done = run_main(capsys, "audit", "verify", str(log_path), "--checkpoint", checkpoint)
    assert done.code == 1 and done.out.startswith("line 4: head: ")
    write_lines(log_path, lines[:2])  # cut before the checkpoint
    done = run_main(capsys, "audit", "verify", str(log_path), "--checkpoint", checkpoint)
    assert done.code == 1 and ": head: " in done.out


def test_a_malformed_checkpoint_is_bad_usage(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 2)
    done = run_main(capsys, "audit", "verify", str(log_path), "--checkpoint", "four:abc")
    assert done.code == 2 and "SEQ:HEX" in done.err


def test_the_key_can_come_from_the_policy(
    capsys: pytest.CaptureFixture[str],
    log_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    head = make_log(log_path, 3, hmac_key=KEY.encode())
    policy = write_policy(tmp_path / "policy", KEYED_POLICY)
    monkeypatch.setenv("AUDIT_KEY", KEY)
    done = run_main(capsys, "audit", "verify", str(log_path), "--policy", str(policy))
    assert (done.code, done.out) == (0, f"ok: 3 records, head {head}\n")
    assert run_main(capsys, "audit", "head", str(log_path), "--policy", str(policy)).out.startswith(
        "3:"
    )
    monkeypatch.delenv("AUDIT_KEY")
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path), "--policy", str(policy)),
        "--policy",
        "AUDIT_KEY",
    )
    assert_one_error_line(
        run_main(capsys, "audit", "verify", str(log_path)), "keyed", "--key-env", "hmac_key_env"
    )


def test_verify_json(capsys: pytest.CaptureFixture[str], log_path: Path) -> None:
    head = make_log(log_path, 3)
    document = run_main(capsys, "audit", "verify", str(log_path), "--json").json()
    assert (document["ok"], document["records"], document["head"]) == (True, 3, head)
    lines = lines_of(log_path)
    lines[1] = lines[1].replace(b'"m:1"', b'"m:X"')
    write_lines(log_path, lines)
    done = run_main(capsys, "audit", "verify", str(log_path), "--json")
    assert done.code == 1
    [finding] = done.json()["findings"]
    assert (finding["line"], finding["reason"]) == (2, "edited")


def test_every_bad_line_is_reported_up_to_a_cap(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 300)
    lines = lines_of(log_path)
    for index in range(1, 300, 2):
        lines[index] = lines[index].replace(b'"m:', b'"M:')
    write_lines(log_path, lines)
    done = run_main(capsys, "audit", "verify", str(log_path))
    out = done.out.splitlines()
    assert done.code == 1
    assert len(out) == 101 and out[-1].startswith("... and ") and out[-1].endswith("more bad lines")
    assert out[0].startswith("line 2: edited: ") and out[1].startswith("line 4: edited: ")


@pytest.mark.parametrize(
    "content",
    [b'version = 1\n[naming]\npattern = "^x$"\n', bytes(range(256)) * 4],
    ids=["a policy file", "a binary"],
)
def test_something_that_is_not_an_audit_log_is_bad_usage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "not-a-log"
    path.write_bytes(content)
    assert_one_error_line(run_main(capsys, "audit", "verify", str(path)), "not an audit log")


def test_repair_refuses_to_move_good_records_unless_forced(
    capsys: pytest.CaptureFixture[str], log_path: Path
) -> None:
    make_log(log_path, 6)
    lines = lines_of(log_path)
    lines[2] = b"this line was damaged"
    write_lines(log_path, lines)
    before = log_path.read_bytes()
    done = run_main(capsys, "audit", "repair", str(log_path))
    assert done.code == 1 and done.out.startswith("refused: ")
    assert log_path.read_bytes() == before
    done = run_main(capsys, "audit", "repair", str(log_path), "--dry-run", "--force")
    assert done.code == 0 and "would move lines 3-6" in done.out and "dry run" in done.out
    assert log_path.read_bytes() == before
    done = run_main(capsys, "audit", "repair", str(log_path), "--force", "--json")
    document = done.json()
    assert done.code == 0 and document["repaired"] is True
    assert (document["first_line"], document["lines_moved"], document["records_moved"]) == (3, 4, 3)
    assert document["forced"]
    assert run_main(capsys, "audit", "verify", str(log_path)).code == 0


def test_repair_of_a_keyed_log_needs_the_key(
    capsys: pytest.CaptureFixture[str], log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_log(log_path, 3, hmac_key=KEY.encode())
    with log_path.open("ab") as stream:
        stream.write(b"damaged\n")
    assert_one_error_line(run_main(capsys, "audit", "repair", str(log_path)), "keyed")
    monkeypatch.setenv("AUDIT_KEY", KEY)
    done = run_main(capsys, "audit", "repair", str(log_path), "--key-env", "AUDIT_KEY")
    assert done.code == 0 and done.out.startswith("moved line 4")
    assert run_main(capsys, "audit", "verify", str(log_path), "--key-env", "AUDIT_KEY").code == 0
