"""The operations the CLI and the shell share: pick the embedder, catch up, search, show context."""

from __future__ import annotations

import time
from collections.abc import Callable

from delta_core.memory.store import Store
from delta_core.records import codec
from delta_core.records.record import Record
from delta_core.search.hybrid import Hit, Searcher
from delta_core.search.meaning import Purposes
from delta_core.search.state import SearchState, search_dir
from delta_core.search.sync import (
    SyncReport,
    attach_static,
    open_state,
    sync,
    sync_lock,
    upgrade,
)

HOUR_NS = 3600 * 10**9
# A catch-up with this few new commands gives them full vectors at once: about 2 s at the
# 270-290 commands/s measured (one thread, load average 3.5), less than a full build took
# before static vectors (12 s for the 546 of examples/sample_history.jsonl at 46/s); static
# vectors rank worse, so they are for memories too large to wait for.
INLINE_UPGRADE = 600
CHUNK_S = 4.0  # a background upgrade holds the lock about this long between saves


class SearchError(RuntimeError):
    """Search cannot run; the message is one line saying what to do."""


def get_embedder(ctx, name: str | None = None):
    """The embedder chosen by ``search.embedder`` (or ``name``)."""
    name = name or ctx.config["search.embedder"]
    found = ctx.components.embedders
    if name not in found:
        have = ", ".join(sorted(found)) or "none"
        raise SearchError(f"no embedder named {name!r} (installed: {have}); set search.embedder")
    return found[name]


def purposes_for(ctx) -> Purposes:
    return Purposes(ctx.layout.root / "search" / "purposes.json")


def refresh(
    ctx,
    embedder,
    *,
    rebuild: bool = False,
    wait: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport | None:
    """Bring the saved search state up to date; ``None`` when another process is at it."""
    directory = search_dir(ctx.layout.root, embedder.name)
    with sync_lock(directory, wait=wait) as got:
        if not got:
            return None
        state = open_state(ctx.layout.root, embedder, rebuild=rebuild)
        purposes = purposes_for(ctx)
        try:
            report = sync(ctx.store, state, embedder, purposes, progress=progress)
            if 0 < report.pending <= INLINE_UPGRADE:
                # the everyday catch-up (a few new commands): full vectors now, as before
                report.upgraded = upgrade(state, embedder, purposes, report.pending)
                report.pending = 0
        except RuntimeError as exc:  # the model package is missing, and the like
            raise SearchError(str(exc)) from None
        if report.changed or report.upgraded or state.gen == 0:
            state.save(directory)
        return report


def upgrade_all(
    ctx,
    embedder,
    *,
    chunk_s: float = CHUNK_S,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Replace every static vector by the full model's, in chunks saved as they finish.

    Between chunks the lock is let go, so a ``delta search`` waits at most one chunk, and a
    killed upgrade loses at most one chunk: the next one resumes from the saved state. Chunks
    are sized to take about ``chunk_s`` seconds at the rate measured so far. Returns how many
    vectors were upgraded.
    """
    directory = search_dir(ctx.layout.root, embedder.name)
    purposes = purposes_for(ctx)
    state: SearchState | None = None
    limit, done = 32, 0
    while True:
        with sync_lock(directory) as got:
            if not got:
                return done
            if state is None or _current_gen(directory) != state.gen:
                state = open_state(ctx.layout.root, embedder)  # another process saved
            left = len(state.pending())
            if not left:
                return done
            t = time.perf_counter()
            try:
                n = upgrade(state, embedder, purposes, limit)
            except RuntimeError as exc:
                raise SearchError(str(exc)) from None
            spent = time.perf_counter() - t
            state.save(directory)
        done += n
        if progress is not None:
            progress(done, done + left - n)
        limit = int(min(4096, max(16, n / max(spent, 1e-3) * chunk_s)))


def _current_gen(directory) -> int:
    try:
        return int((directory / "current").read_text().strip())
    except (OSError, ValueError):
        return 0


def open_searcher(ctx, embedder) -> Searcher:
    """A searcher over the saved state (memory-mapped vectors); empty when never indexed."""
    state = SearchState.load(search_dir(ctx.layout.root, embedder.name))
    if state is None:
        state = open_state(ctx.layout.root, embedder)
    else:
        attach_static(state, ctx.layout.root, embedder, new_vectors=False)
    return Searcher(state, embedder)


def find_record(store: Store, key: bytes) -> Record | None:
    ns = codec.key_time_ns(key)
    for rec in store.iter_records(ns, ns):
        if codec.record_key(rec) == key:
            return rec
    return None


def neighbours(store: Store, hit: Hit, n: int = 2) -> tuple[list[Record], list[Record]]:
    """The ``n`` commands run just before and just after a hit in the same session."""
    rec = find_record(store, hit.key)
    if rec is None or not rec.session:
        return [], []
    near = [
        r
        for r in store.iter_records(rec.start_ns - 6 * HOUR_NS, rec.start_ns + 6 * HOUR_NS)
        if r.session == rec.session
    ]
    keys = [codec.record_key(r) for r in near]
    i = keys.index(hit.key) if hit.key in keys else -1
    if i < 0:
        return [], []
    return near[max(0, i - n) : i], near[i + 1 : i + 1 + n]


def upgrade_in_background(ctx, report: SyncReport | None) -> bool:
    """Start the detached full-model pass when ``report`` left static vectors; True if so.

    Off when ``search.background_interval`` is 0 (then ``delta search --sync`` does it).
    """
    if report is None or not report.pending or ctx.config["search.background_interval"] <= 0:
        return False
    from delta_core.search import background

    try:
        background.start(ctx.layout.root)
    except OSError as exc:
        from delta_core.log import problem

        problem(f"could not start the search upgrade: {exc}")
        return False
    return True
