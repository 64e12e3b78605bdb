"""Extraction from a real store: sessions, filters applied again, time split, repeats."""

from __future__ import annotations

from delta_core.learn.extraction import extract_sessions, split_by_time
from delta_core.memory.store import Store
from delta_core.plugin.protocols import Verdict
from tests.conftest import make_record

HOUR = 3600 * 10**9


class DropWord:
    """A real filter: drops commands containing a word (a rule added after they were stored)."""

    name = "drop-word"

    def __init__(self, word: str) -> None:
        self.word = word

    def check(self, command: str, cwd: str) -> Verdict:
        if self.word in command:
            return Verdict("drop", "")
        return Verdict.keep(command)


class RedactWord(DropWord):
    name = "redact-word"

    def check(self, command: str, cwd: str) -> Verdict:
        if self.word in command:
            return Verdict("redact", command.replace(self.word, "<redacted>"))
        return Verdict.keep(command)


def stored(tmp_path, records):
    store = Store(tmp_path / "delta")
    store.add_many(records)
    return store


def test_sessions_are_grouped_and_ordered_by_time(tmp_path):
    recs = [
        make_record(0, "a1", session="A"),
        make_record(1, "b1", session="B"),
        make_record(2, "a2", session="A"),
        make_record(3, "b2", session="B"),
    ]
    with stored(tmp_path, recs) as store:
        sessions, report = extract_sessions(store.iter_records(), [])
    assert [[r.command for r in s.records] for s in sessions] == [["a1", "a2"], ["b1", "b2"]]
    assert report.read == 4 and report.kept == 4 and report.sessions == 2


def test_filters_run_again_on_stored_commands(tmp_path):
    recs = [
        make_record(0, "echo hunter2"),
        make_record(1, "ls"),
        make_record(2, "login --password secret1"),
    ]
    with stored(tmp_path, recs) as store:
        sessions, report = extract_sessions(
            store.iter_records(), [DropWord("hunter2"), RedactWord("secret1")]
        )
    assert [r.command for r in sessions[0].records] == ["ls", "login --password <redacted>"]
    assert report.dropped == 1 and report.redacted == 1


def test_consecutive_repeats_collapse_only_when_asked(tmp_path):
    recs = [make_record(i, c, cwd="/w") for i, c in enumerate(["ls", "ls", "ls", "git st", "ls"])]
    with stored(tmp_path, recs) as store:
        collapsed, report = extract_sessions(store.iter_records(), [])
        kept, _ = extract_sessions(store.iter_records(), [], collapse_duplicates=False)
    assert [r.command for r in collapsed[0].records] == ["ls", "git st", "ls"]
    assert report.collapsed == 2
    assert len(kept[0].records) == 5


def test_records_without_session_split_after_an_hour_away(tmp_path):
    recs = [
        make_record(0, "one", session=""),
        make_record(1, "two", session=""),
        make_record(2, "three", session="", start_ns=1_764_000_000_000_000_000 + 2 * HOUR),
    ]
    with stored(tmp_path, recs) as store:
        sessions, _ = extract_sessions(store.iter_records(), [])
    assert [[r.command for r in s.records] for s in sessions] == [["one", "two"], ["three"]]


def test_time_split_puts_the_future_in_validation(tmp_path):
    recs = [make_record(i, f"cmd {i}", session=f"s{i // 7}") for i in range(100)]
    with stored(tmp_path, recs) as store:
        sessions, _ = extract_sessions(store.iter_records(), [])
    train, val, split = split_by_time(sessions, 0.2)
    train_times = [r.start_ns for s in train for r in s.records]
    val_times = [r.start_ns for s in val for r in s.records]
    assert len(val_times) == 20 and len(train_times) == 80
    assert max(train_times) < split <= min(val_times)
    # the session spanning the moment is cut in two, nothing lost or repeated
    assert sorted(train_times + val_times) == sorted(r.start_ns for r in recs)


def test_time_split_of_a_tiny_history_keeps_everything_for_training(tmp_path):
    with stored(tmp_path, [make_record(0, "ls")]) as store:
        sessions, _ = extract_sessions(store.iter_records(), [])
    train, val, _ = split_by_time(sessions, 0.1)
    assert len(train) == 1 and val == []
