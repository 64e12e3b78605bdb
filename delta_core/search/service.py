"""The operations the CLI and the shell share: pick the embedder, catch up, search, show context."""

from __future__ import annotations

from collections.abc import Callable

from delta_core.memory.store import Store
from delta_core.records import codec
from delta_core.records.record import Record
from delta_core.search.hybrid import Hit, Searcher
from delta_core.search.meaning import Purposes
from delta_core.search.state import SearchState, search_dir
from delta_core.search.sync import SyncReport, open_state, sync, sync_lock

HOUR_NS = 3600 * 10**9


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
        try:
            report = sync(ctx.store, state, embedder, purposes_for(ctx), progress=progress)
        except RuntimeError as exc:  # the model package is missing, and the like
            raise SearchError(str(exc)) from None
        if report.changed or state.gen == 0:
            state.save(directory)
        return report


def open_searcher(ctx, embedder) -> Searcher:
    """A searcher over the saved state (memory-mapped vectors); empty when never indexed."""
    state = SearchState.load(search_dir(ctx.layout.root, embedder.name))
    if state is None:
        state = open_state(ctx.layout.root, embedder)
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
