"""Input is validated at the door: each bad line is rejected with its line number and the
good lines are stored; nothing that would break a later reader gets in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import delta, delta_env
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from delta_core.context import DeltaContext
from delta_core.memory.store import Store
from delta_core.records.checks import MAX_COMMAND_BYTES
from delta_core.records.record import Record
from delta_core.session.recorder import Recorder


def _good(i: int) -> str:
    ts = datetime.fromtimestamp(1_764_000_000 + i, UTC).isoformat()
    return json.dumps({"command": f"make target-{i}", "timestamp": ts, "duration": 0.5})


BAD_LINES = {
    # raw JSON text, as a hostile or broken file holds it
    "surrogate command": '{"command": "\\ud800 rm -rf /"}',
    "surrogate cwd": '{"command": "ls", "cwd": "/tmp/\\udcff"}',
    "year 1500": '{"command": "old", "timestamp": "1500-01-01T00:00:00+00:00"}',
    "year 3000": '{"command": "new", "timestamp": "3000-01-01T00:00:00+00:00"}',
    "NaN duration": '{"command": "nan", "duration": NaN}',
    "Infinity duration": '{"command": "inf", "duration": Infinity}',
    "negative duration": '{"command": "neg", "duration": -5}',
    "over-long command": json.dumps({"command": "x" * (MAX_COMMAND_BYTES + 1)}),
}


def test_bad_jsonl_lines_are_rejected_one_by_one_and_the_good_ones_stored(tmp_path) -> None:
    env = delta_env(tmp_path / "delta")
    lines, bad_at = [], {}
    for i in range(1535):
        lines.append(_good(i))
        if i % 150 == 7 and len(bad_at) < len(BAD_LINES):
            name = list(BAD_LINES)[len(bad_at)]
            lines.append(BAD_LINES[name])
            bad_at[len(lines)] = name
    src = tmp_path / "mixed.jsonl"
    src.write_text("\n".join(lines) + "\n")
    got = delta(env, "memory", "import", "--from", "jsonl", str(src), "--json")
    assert "Traceback" not in got.stderr, got.stderr
    assert got.returncode == 1  # something was skipped
    (summary,) = json.loads(got.stdout)
    assert summary["added"] == 1535
    assert {s["line"]: s["error"] for s in summary["skipped"]}.keys() == bad_at.keys()
    errors = {bad_at[s["line"]]: s["error"] for s in summary["skipped"]}
    assert "lone surrogate" in errors["surrogate command"]
    assert "'cwd' holds a lone surrogate" in errors["surrogate cwd"]
    assert "out of range" in errors["year 1500"] and "out of range" in errors["year 3000"]
    for name in ("NaN duration", "Infinity duration", "negative duration"):
        assert "finite number of seconds >= 0" in errors[name], errors[name]
    assert f"over the {MAX_COMMAND_BYTES:,}-byte cap (1 over)" in errors["over-long command"]
    # every reader works on what was stored, and the export is strict JSON in UTF-8
    out = delta(env, "memory", "export")
    assert out.returncode == 0
    for line in out.stdout.splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in the export"))
    for args in (
        ("memory", "list"),
        ("memory", "status"),
        ("memory", "stats"),
        ("memory", "search", "make"),
    ):
        got = delta(env, *args)
        assert got.returncode == 0 and "Traceback" not in got.stderr, (args, got.stderr)


def test_a_large_file_on_the_two_process_path_is_checked_too(tmp_path) -> None:
    """Files of 4 MB and more are parsed by a worker process: the same door applies."""
    env = delta_env(tmp_path / "delta")
    lines = [_good(i) + " " * 100 for i in range(30_000)]
    lines.insert(12_345, BAD_LINES["surrogate command"])
    src = tmp_path / "big.jsonl"
    src.write_text("\n".join(lines) + "\n")
    assert src.stat().st_size >= 4 * 1024 * 1024
    got = delta(env, "memory", "import", "--from", "jsonl", str(src), "--json")
    (summary,) = json.loads(got.stdout)
    assert summary["added"] == 30_000
    assert [s["line"] for s in summary["skipped"]] == [12_346]
    raw = subprocess.run(
        [sys.executable, "-c", "from delta_core.cli import main; main()", "memory", "export"],
        env=env,
        capture_output=True,
        timeout=300,
    ).stdout
    raw.decode("utf-8")  # strict: no surrogate reached the export


def test_a_surrogate_from_any_importer_is_stopped_at_the_pipeline(tmp_path) -> None:
    env = delta_env(tmp_path / "delta")
    history = tmp_path / "xonsh-1234.json"
    history.write_text(
        '{"data": {"sessionid": "s1", "cmds": ['
        '{"inp": "ls\\n", "rtn": 0, "ts": [1764000000.0, 1764000001.0]},'
        '{"inp": "echo \\ud800\\n", "rtn": 0, "ts": [1764000002.0, 1764000003.0]}'
        "]}}"
    )
    got = delta(env, "memory", "import", "--from", "xonsh-json", str(history), "--json")
    assert "Traceback" not in got.stderr, got.stderr
    (summary,) = json.loads(got.stdout)
    assert summary["added"] == 1
    assert "record 2: 'command' holds a lone surrogate" in summary["skipped"][0]["error"]
    assert delta(env, "memory", "list").returncode == 0


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_fifos_devices_and_directories_are_refused_in_one_line(tmp_path, kind) -> None:
    env = delta_env(tmp_path / "delta")
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
        words = "is a FIFO, not a history file"
    elif kind == "device":
        path, words = Path("/dev/zero"), "is a character device, not a history file"
    else:
        path = tmp_path / "dir"
        path.mkdir()
        words = "is a directory, not a history file"
    got = delta(env, "memory", "import", "--from", "jsonl", str(path), timeout=60)
    assert got.returncode == 1
    assert words in got.stderr and "Traceback" not in got.stderr, got.stderr


def test_list_shows_a_huge_stored_command_cut(tmp_path) -> None:
    """A store written before the cap may hold a 1 MB command: `list` shows its head (it
    used to render all of it, in time quadratic in its length: 10 MB took 38 s)."""
    root = tmp_path / "delta"
    with Store(root) as store:
        store.add(Record("cat <<EOF " + "y" * 1_000_000, 1_764_000_000 * 10**9))
        store.add(Record("echo [red]not markup[/red]", 1_764_000_001 * 10**9))
    got = delta(delta_env(root), "memory", "list", "--limit", "3")
    assert got.returncode == 0
    assert "… (998,010 more characters)" in " ".join(got.stdout.split())  # rich wraps lines
    assert len(got.stdout) < 10_000
    assert "[red]not markup[/red]" in got.stdout  # a command is text, never markup


def test_the_shell_recorder_keeps_undecodable_bytes_visible_and_refuses_a_huge_command(
    delta_home, capsys
) -> None:
    rec = Recorder(DeltaContext(delta_home), sync_thread=False)
    stored = rec.finish(rec.start("cat /tmp/caf\udce9", "/tmp/caf\udce9"), 0, 0.1)
    assert stored is not None and stored.command == "cat /tmp/caf\\udce9"
    assert stored.cwd == "/tmp/caf\\udce9"
    assert rec.finish(rec.start("x" * (MAX_COMMAND_BYTES + 10), "/"), 0, 0.1) is None
    rec.close()
    err = capsys.readouterr().err
    assert "a command was not recorded: 'command' is 65,546 bytes, over the" in err
    with Store(delta_home) as store:
        assert [r.command for r in store.iter_records()] == ["cat /tmp/caf\\udce9"]


@settings(max_examples=300, deadline=None)
@given(
    command=st.text(min_size=1, max_size=40),
    cwd=st.text(max_size=20),
    start_s=st.floats(min_value=-1e11, max_value=1e11, allow_nan=False),
    duration=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_what_passes_the_checks_round_trips_as_strict_json(command, cwd, start_s, duration):
    """Property: a record the checks accept encodes, decodes and exports as strict UTF-8
    JSON; one they refuse is refused with a reason (hypothesis draws lone surrogates too)."""
    from delta_core.memory.jsonl import dumps, from_json
    from delta_core.records import codec
    from delta_core.records.checks import record_problem

    assume(int(start_s) != 0)  # 0 means "no time": the import gives it one
    rec = Record(command, int(start_s) * 10**9, cwd=cwd, duration=duration)
    why = record_problem(rec)
    if why is not None:
        assert isinstance(why, str) and why
        return
    back = codec.decode(codec.encode(rec), codec.record_key(rec))
    assert (back.command, back.cwd, back.start_ns) == (rec.command, rec.cwd, rec.start_ns)
    line = dumps(rec)
    line.encode("utf-8")  # strict
    obj = json.loads(line, parse_constant=lambda c: pytest.fail(c))
    if command.strip():
        assert from_json(obj).command == command
