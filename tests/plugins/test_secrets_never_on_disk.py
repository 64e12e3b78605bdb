"""No secret reaches the disk: raw bytes of every file under the Delta root, real LMDB.

Commands go through the real prompt-path ``Recorder`` (filters, store, index); then every file
under ``$DELTA_HOME`` is read as bytes and searched for each secret. The same check runs after
secrets stored earlier (with the filter off) are removed by ``prune --filters`` and ``forget``,
which must also clear them out of LMDB's free pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.context import DeltaContext
from delta_core.session.recorder import Recorder
from tests.plugins.secret_examples import POSITIVES

SECRETS = [(command, secret) for _rule, command, secret in POSITIVES]


@pytest.fixture(autouse=True)
def small_maps(delta_home, monkeypatch):
    # Small LMDB maps (they grow when needed) keep the files quick to read whole.
    monkeypatch.setenv("DELTA_MEMORY_MAP_SIZE_MB", "1")


def _on_disk(root: Path, needles: list[str]) -> set[str]:
    """Which of ``needles`` occur in the raw bytes of any file under ``root``."""
    found: set[str] = set()
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.update(n for n in needles if n.encode() in data)
    return found


def _record(commands: list[str]) -> list:
    recorder = Recorder(DeltaContext(), session="s-test", sync_thread=False)
    try:
        stored = []
        for i, command in enumerate(commands):
            pending = recorder.start(command, f"/home/ada/p{i}", env={})
            stored.append(recorder.finish(pending, exit=0, duration=0.01))
        return stored
    finally:
        recorder.close()


def _stored_commands() -> list[str]:
    ctx = DeltaContext()
    try:
        return [r.command for r in ctx.store.iter_records()]
    finally:
        ctx.close()


def test_recorded_secrets_are_not_in_any_file(delta_home):
    benign = ["git status", "make test"]
    stored = _record([c for c, _s in SECRETS] + benign)
    assert all(r is not None for r in stored)  # redacted, not dropped: the command is kept
    commands = _stored_commands()
    assert len(commands) == len(SECRETS) + len(benign)
    assert all("<redacted:" in c for c in commands[: len(SECRETS)])
    assert commands[-2:] == benign
    assert list(delta_home.rglob("*.mdb"))  # the memory really is on disk
    assert _on_disk(delta_home, [s for _c, s in SECRETS]) == set()


def test_drop_mode_stores_nothing_of_the_command(delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_FILTERS_SECRETS_ACTION", "drop")
    stored = _record([c for c, _s in SECRETS[:5]] + ["ls -la"])
    assert stored[:5] == [None] * 5
    assert _stored_commands() == ["ls -la"]
    assert _on_disk(delta_home, [n for pair in SECRETS[:5] for n in pair]) == set()


def test_prune_filters_and_forget_clear_secrets_stored_before(delta_home, monkeypatch):
    # Secrets recorded while the filter was switched off are on disk, as the scan shows...
    monkeypatch.setenv("DELTA_FILTERS_DISABLED", "secrets")
    _record([c for c, _s in SECRETS] + ["echo keep-me"])
    assert _on_disk(delta_home, [s for _c, s in SECRETS]) == {s for _c, s in SECRETS}

    # ...until the filters are re-applied to everything stored.
    monkeypatch.delenv("DELTA_FILTERS_DISABLED")
    result = CliRunner().invoke(build_cli(), ["memory", "prune", "--filters"])
    assert result.exit_code == 0, result.output
    assert _on_disk(delta_home, [s for _c, s in SECRETS]) == set()
    assert "echo keep-me" in _stored_commands()

    # forget removes the (redacted) commands and their text everywhere, too.
    ctx = DeltaContext()
    try:
        removed = ctx.store.forget(lambda c: "<redacted:" in c)
    finally:
        ctx.close()
    assert removed == len(SECRETS)
    assert _stored_commands() == ["echo keep-me"]
    assert _on_disk(delta_home, ["<redacted:github-token>", "keep-me"]) == {"keep-me"}
