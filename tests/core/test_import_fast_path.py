"""The import's fast path stores exactly what the record-by-record path stored.

An import encodes its batches with :func:`codec.encode_many` (not :func:`codec.encode_with_key`
per record), checks a record's six text fields in one test, and folds the index every
``FOLD_EVERY`` records instead of every batch. None of it may change a stored byte: the
same records, the same ids, the same index, the same problems reported.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_import_parallel import SECRET, zsh_history

from delta_core.context import DeltaContext
from delta_core.imports import pipeline
from delta_core.imports.parallel import import_path
from delta_core.imports.pipeline import ImportSummary, paused_gc, prepare_batches
from delta_core.records import checks, codec
from delta_core.records.checks import record_problem, text_problem
from delta_core.records.record import Record


def fresh(tmp: Path, name: str) -> DeltaContext:
    home = tmp / name
    return DeltaContext(home, {"DELTA_HOME": str(home), "DELTA_PLUGINS": ""})


def stored(ctx: DeltaContext) -> tuple[list, dict]:
    store = ctx.store
    records = [(r.id, r.command, r.start_ns, r.cwd, r.exit) for r in store.iter_records()]
    with store.index.env.begin() as txn:
        snapshot = store.index.snapshot(txn)
    return records, snapshot


def batch_by_batch(ctx: DeltaContext, path: Path) -> ImportSummary:
    """The import as it was: each batch encoded record by record and folded at once."""
    summary = ImportSummary()
    items = ctx.components.importers["zsh"].read(path)
    source = f"zsh:{path.resolve()}"
    with paused_gc():
        for records, origins in prepare_batches(
            items, list(ctx.filters), summary, source=source, batch=300
        ):
            for rec in records:  # ids as encode_with_key gives them, one record at a time
                codec.encode_with_key(rec)
            summary.add(ctx.store.add_many(records, origins))
    ctx.store.sync()
    return summary


def test_an_import_stores_what_storing_batch_by_batch_stored(tmp_path, monkeypatch):
    history = zsh_history(tmp_path / "zsh_history", 2_000, back_in_time=(17, 400))
    monkeypatch.setattr(pipeline, "BATCH", 300)
    monkeypatch.setattr(pipeline, "FOLD_EVERY", 700)  # several folds, at batch boundaries
    old, new = fresh(tmp_path, "old"), fresh(tmp_path, "new")
    a = batch_by_batch(old, history)
    b = import_path(new, "zsh", history, parallel=False)
    assert (a.read, a.added, a.dropped, a.redacted) == (b.read, b.added, b.dropped, b.redacted)
    assert [(p.line, p.message) for p in a.problems] == [(p.line, p.message) for p in b.problems]
    assert stored(old) == stored(new)
    commands = [r[1] for r in stored(new)[0]]
    assert b.redacted == 1 and b.dropped == 1  # the token, the spaced command
    assert "git clone https://<redacted:github-token>@github.com/o/r.git" in commands
    assert not any(SECRET in c for c in commands)
    # the garbage line: one line said, the rest imported
    assert len(b.problems) == 1 and "\n" not in b.problems[0].message
    assert b.added == 2_000 + 2 - 1


_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12
)  # surrogates included: a JSON history can hold one
_records = st.builds(
    Record,
    command=_text,
    start_ns=st.one_of(st.just(0), st.integers(1, 2**62)),
    cwd=_text,
    exit=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    duration=st.one_of(st.none(), st.floats(0, 1e6)),
    session=_text,
    host=_text,
    user=_text,
    shell=_text,
    utc_offset=st.integers(-720, 840),
    extra=st.dictionaries(_text, _text, max_size=2),
    id=st.one_of(st.just(""), st.binary(min_size=8, max_size=8).map(bytes.hex)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_records, max_size=6))
def test_encode_many_gives_the_bytes_and_ids_of_encode_with_key(records):
    one_by_one = copy.deepcopy(records)
    expected = [codec.encode_with_key(r) for r in one_by_one]
    keys, values = codec.encode_many(records)
    assert list(zip(keys, values, strict=True)) == expected
    assert [r.id for r in records] == [r.id for r in one_by_one]


def _problem_field_by_field(rec: Record) -> str | None:
    """record_problem as it was: each text field tested in turn."""
    start = rec.start_ns
    if start and not checks.MIN_START_NS <= start <= checks.MAX_START_NS:
        return record_problem(dataclasses.replace(rec))  # the same early answer
    if rec.duration is not None and not 0.0 <= rec.duration < math.inf:
        return record_problem(rec)
    if rec.exit is not None and not -(2**31) <= rec.exit < 2**31:
        return record_problem(rec)
    why = checks.command_size_problem(rec.command)
    if why:
        return why
    for name in ("command", "cwd", "session", "host", "user", "shell"):
        why = text_problem(name, getattr(rec, name))
        if why:
            return why
    for key, value in rec.extra.items():
        why = text_problem("extra", key) or text_problem(f"extra.{key}", value)
        if why:
            return why
    return None


@settings(max_examples=400, deadline=None)
@given(_records)
def test_the_one_test_of_six_fields_says_what_testing_each_said(rec):
    assert record_problem(rec) == _problem_field_by_field(rec)
