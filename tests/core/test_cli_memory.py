"""`delta memory …` as a user runs it (in-process through click, on a real store)."""

from __future__ import annotations

import json
import stat
from datetime import datetime

import pytest
from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.context import DeltaContext
from tests.conftest import make_record


def run(*args, input=None):
    return CliRunner().invoke(build_cli(), list(args), input=input, catch_exceptions=False)


@pytest.fixture
def history(tmp_path):
    path = tmp_path / "h.jsonl"
    lines = [
        {"command": "ls -la", "exit": 0, "timestamp": "2026-11-20T09:00:00+01:00", "cwd": "/srv"},
        {"command": "git status", "exit": 0, "timestamp": "2026-11-20T09:01:00+01:00"},
        {"command": "git stats", "exit": 1, "timestamp": "2026-11-21T22:01:00+01:00"},
        {"command": "make test", "session": "abc", "extra": {"git_branch": "main"}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_import_export_roundtrip_keeps_every_field(delta_home, history):
    assert run("memory", "import", "--from", "jsonl", str(history)).exit_code == 0
    out = run("memory", "export").stdout.splitlines()
    objs = [json.loads(line) for line in out]
    assert [o["command"] for o in objs] == ["ls -la", "git status", "git stats", "make test"]
    first = objs[0]
    assert set(first) == {
        "id",
        "command",
        "cwd",
        "exit",
        "duration",
        "timestamp",
        "session",
        "host",
        "user",
        "shell",
        "extra",
    }
    assert first["timestamp"] == "2026-11-20T09:00:00.000000+01:00"
    assert first["cwd"] == "/srv" and first["exit"] == 0 and first["duration"] is None
    assert objs[3]["extra"] == {"git_branch": "main"} and objs[3]["session"] == "abc"
    # the export imports into a fresh memory unchanged
    exported = delta_home.parent / "export.jsonl"
    exported.write_text("\n".join(out) + "\n")
    assert stat.S_IMODE(exported.stat().st_mode)
    ctx = DeltaContext()
    assert ctx.store.count() == 4


def test_importing_twice_adds_nothing(delta_home, history):
    run("memory", "import", "--from", "jsonl", str(history))
    second = run("memory", "import", "--from", "jsonl", str(history), "--json")
    summary = json.loads(second.output)[0]
    assert summary["added"] == 0 and summary["duplicates"] == 4
    assert len(run("memory", "export").stdout.splitlines()) == 4


def test_malformed_lines_are_reported_skipped_and_fail_the_run(delta_home, tmp_path, history):
    run("memory", "import", "--from", "jsonl", str(history))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"command": "echo ok"}\n{broken\n\xff\xfe garbage\n{"exit": 3}\n'
        b'{"command": "echo fine", "exit": "zero"}\n{"command": "echo last"}'
    )
    result = CliRunner().invoke(build_cli(), ["memory", "import", "--from", "jsonl", str(bad)])
    assert result.exit_code == 1
    for n in (2, 3, 4, 5):
        assert f"bad.jsonl:{n}: skipped" in result.output
    commands = [json.loads(x)["command"] for x in run("memory", "export").stdout.splitlines()]
    assert commands[:4] == ["ls -la", "git status", "git stats", "make test"]
    assert commands[4:] == ["echo ok", "echo last"]


def test_stats_json(delta_home, history):
    run("memory", "import", "--from", "jsonl", str(history))
    st = json.loads(run("memory", "stats", "all", "--json").output)
    assert st["total"] == 4 and st["unique"] == 4
    assert st["success_rate"] == pytest.approx(2 / 3)
    assert st["per_day"]["2026-11-20"] == 2
    # "make test" has no time: it is stored at the import's, whose local hour counts it too
    untimed = json.loads(run("memory", "export").stdout.splitlines()[3])
    now_hour = datetime.fromisoformat(untimed["timestamp"]).hour
    expected = [0] * 24
    for hour in (9, 9, 22, now_hour):
        expected[hour] += 1
    assert st["per_hour"] == expected
    assert {"program": "git", "count": 2} in st["top_programs"]


def test_list_filters(delta_home, history):
    run("memory", "import", "--from", "jsonl", str(history))
    failed = json.loads(run("memory", "list", "--exit", "1", "--json").output)
    assert [r["command"] for r in failed] == ["git stats"]
    in_srv = json.loads(run("memory", "list", "--cwd", "/srv", "--json").output)
    assert [r["command"] for r in in_srv] == ["ls -la"]
    newest = json.loads(run("memory", "list", "-n", "2", "--json").output)
    assert [r["command"] for r in newest] == ["git stats", "make test"]
    since = json.loads(run("memory", "list", "--since", "2026-11-21", "--json").output)
    assert "ls -la" not in [r["command"] for r in since]


@pytest.mark.parametrize(
    ("mode", "text", "expected"),
    [
        ("prefix", "git st", {"git status", "git stats"}),
        ("substring", "stat", {"git status", "git stats"}),
        ("fuzzy", "git stst", {"git status", "git stats"}),  # a typo, not an abbreviation
        ("prefix", "make", {"make test"}),
    ],
)
def test_search_modes(delta_home, history, mode, text, expected):
    run("memory", "import", "--from", "jsonl", str(history))
    hits = json.loads(run("memory", "search", text, "--mode", mode, "--json").output)
    assert {h["command"] for h in hits} == expected


def test_forget_asks_first_and_removes_everywhere(delta_home, history):
    run("memory", "import", "--from", "jsonl", str(history))
    no = CliRunner().invoke(build_cli(), ["memory", "forget", "git"], input="n\n")
    assert "Forget 2 records" in no.output and "nothing forgotten" in no.output
    yes = run("memory", "forget", "git", "--yes")
    assert "forgot 2 records" in yes.output
    assert json.loads(run("memory", "search", "git", "--json").output) == []
    assert "git st" not in run("memory", "export").stdout


def test_pause_and_resume_recording(delta_home):
    from delta_core.session.recorder import Recorder

    run("memory", "off")
    rec = Recorder(DeltaContext(), sync_thread=False)
    assert rec.finish(rec.start("echo hidden", "/"), 0, 0.1) is None
    assert json.loads(run("memory", "status", "--json").output)["recording"] is False
    run("memory", "on")
    rec = Recorder(DeltaContext(), sync_thread=False)
    assert rec.finish(rec.start("echo shown", "/"), 0, 0.1) is not None
    rec.close()
    assert [json.loads(x)["command"] for x in run("memory", "export").stdout.splitlines()] == [
        "echo shown"
    ]


def test_verify_reindex_du_and_prune(delta_home):
    ctx = DeltaContext()
    ctx.store.add_many(make_record(i) for i in range(50))
    ctx.close()
    assert "1 days healthy, 50 records" in run("memory", "verify").output
    assert "indexed 50 records" in run("memory", "reindex").output
    assert json.loads(run("memory", "du", "--json").output)["shards"] > 0
    assert "pruned 50 records" in run("memory", "prune", "--older-than", "1").output
    assert json.loads(run("memory", "status", "--json").output)["records"] == 0


def test_bad_config_is_one_line(delta_home):
    delta_home.mkdir(parents=True)
    (delta_home / "config.toml").write_text("[memory]\nrecord = 'perhaps'\n")
    result = CliRunner().invoke(build_cli(), ["memory", "status"])
    assert result.exit_code != 0
    assert "memory.record must be bool" in result.output
    assert "Traceback" not in result.output


def test_recorder_never_raises_into_the_shell(tmp_path, monkeypatch, capsys):
    from delta_core.session.recorder import Recorder

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("DELTA_HOME", str(blocker))
    rec = Recorder(sync_thread=False)
    for _ in range(3):
        assert rec.finish(rec.start("echo hi", "/"), 0, 0.0) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("delta: ")


def test_explain_names_the_filter_and_what_is_stored(delta_home):
    token = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
    out = json.loads(
        run("memory", "explain", f"export GITHUB_TOKEN={token} && make", "--json").stdout
    )
    assert out["action"] == "redact"
    assert out["stored"] == "export GITHUB_TOKEN=<redacted:github-token> && make"
    fired = [f for f in out["filters"] if f["action"] != "keep"]
    assert [f["filter"] for f in fired] == ["secrets"]
    assert token not in json.dumps(out)
    spaced = json.loads(run("memory", "explain", " ls", "--json").stdout)
    assert spaced["stored"] is None
    assert any(f["filter"] == "ignorespace" and f["action"] == "drop" for f in spaced["filters"])
