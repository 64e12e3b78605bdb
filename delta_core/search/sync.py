"""Keeping the search state in step with the shards: new commands in, removed ones out.

Runs off the prompt path (``delta search`` before it answers, or a background
``delta search --sync``). Each day shard is compared with what was indexed by its file
identity and record count: an unchanged day costs one ``stat``; a day that grew, or that
``forget``/``prune --filters`` rewrote (a rewrite compacts the shard into a new file), is read
again; a day that vanished (``prune``, quarantine) loses its records. A command none of whose
records remain loses its vector, and the vector index is then rebuilt from the live vectors
so that the removed text's vector leaves the file too. Only new distinct commands are embedded.

With an embedder that gives token vectors (:class:`delta_core.plugin.protocols.TokenEmbedder`,
the default MiniLM does), new commands get static vectors at once (thousands a second,
:mod:`delta_core.search.static`) and :func:`upgrade` replaces them with the full model's in
resumable chunks, most used commands first; ``delta search --sync`` (the background catch-up)
runs it to the end. Without, new commands get the full model's vectors straight away.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from delta_core.memory.lmdb_env import file_identity
from delta_core.memory.store import Store
from delta_core.paths import FILE_MODE, private_dir
from delta_core.records import codec
from delta_core.search.lexical import Bm25
from delta_core.search.meaning import TEXT_VERSION, Purposes, embedding_text
from delta_core.search.state import EXIT_UNKNOWN, SearchState, remove_tree, search_dir
from delta_core.search.static import StaticEmbedder
from delta_core.search.vectors import VectorIndex

EMBED_BATCH = 256
STATIC_BATCH = 8192  # static vectors are cheap: large batches for fewer graph insertions
#: the static index is built at thousands of vectors a second and lives for minutes: a
#: shallower search while inserting halves the graph's cost (0.11 -> 0.05 ms a vector)
STATIC_GRAPH = {"expansion_add": 64}
REFIT_GROWTH = 2.0  # static weights are refitted once the memory has grown this much


@dataclass
class SyncReport:
    records_added: int = 0
    records_removed: int = 0
    embedded: int = 0  # new commands given a vector (static or full)
    vectors_removed: int = 0
    rebuilt: bool = False
    upgraded: int = 0  # static vectors replaced by the full model's
    pending: int = 0  # static vectors left to upgrade

    @property
    def changed(self) -> bool:
        return bool(self.records_added or self.records_removed or self.rebuilt)


@contextmanager
def sync_lock(directory: Path, *, wait: bool = True):
    """One syncing process per search directory; ``wait=False`` yields False when busy."""
    private_dir(directory)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _day_status(store: Store) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for day, n in store.day_counts().items():
        ident = file_identity(store.layout.shards / day)
        if ident is not None:
            out[day] = [ident[0], ident[1], n]
    return out


def open_state(root: Path, embedder, *, rebuild: bool = False, static: bool = True) -> SearchState:
    """The saved state for ``embedder`` loaded for writing, or a fresh one.

    A state made by another text format or dimension is discarded: its vectors would not
    be comparable with new ones. ``static``: new commands get static vectors first when the
    embedder can make them (else full ones at once).
    """
    directory = search_dir(root, embedder.name)
    st = None if rebuild else SearchState.load(directory, view=False)
    if st is None or st.text_version != TEXT_VERSION or st.dim != embedder.dim:
        if rebuild or st is not None:
            remove_tree(directory)
        st = SearchState(
            embedder.dim, embedder.name, TEXT_VERSION, vectors=VectorIndex(embedder.dim)
        )
    attach_static(st, root, embedder, new_vectors=static)
    return st


def attach_static(state: SearchState, root: Path, embedder, *, new_vectors: bool = True) -> None:
    """Give ``state`` its static embedder (for queries, and for new commands if asked)."""
    quick = StaticEmbedder.for_embedder(embedder, root)
    if quick is None:
        return
    quick.weights = state.static_weights
    if new_vectors or len(state.pending()):
        state.static_embedder = quick


def sync(
    store: Store,
    state: SearchState,
    embedder,
    purposes: Purposes | None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Bring ``state`` up to date with ``store``; the caller saves it when ``changed``."""
    report = SyncReport(rebuilt=state.gen == 0 and len(state) == 0)
    now = _day_status(store)
    gone = [d for d in state.days if d not in now]
    redo = [d for d in now if state.days.get(d) != now[d]]
    if not gone and not redo:
        report.rebuilt = False
        report.pending = len(state.pending())
        return report
    day_ids = {d: i for i, d in enumerate(state.day_names)}
    drop_ids = [day_ids[d] for d in (*gone, *redo) if d in day_ids]
    keep = ~np.isin(state.rec_day, np.asarray(drop_ids, dtype=np.int32))
    old_n = len(state)

    cols: dict[str, list] = {
        c: [] for c in ("key", "cmd", "ns", "exit", "cwd", "day", "host", "session")
    }
    cwd_ids = {c: i for i, c in enumerate(state.cwds)}
    host_ids = {c: i for i, c in enumerate(state.hosts)}
    session_ids = {c: i for i, c in enumerate(state.sessions)}
    for day in redo:
        d = state.intern(state.day_names, day, day_ids)
        env = store.shard(day, create=False)
        if env is None:
            continue
        with env.begin(buffers=False) as txn:
            for key, value in txn.cursor():
                try:
                    rec = codec.decode(value, key)
                except codec.CodecError:
                    continue  # `delta memory verify` reports and quarantines damage
                cols["key"].append(key)
                cols["cmd"].append(rec.command)
                cols["ns"].append(rec.start_ns)
                cols["exit"].append(EXIT_UNKNOWN if rec.exit is None else rec.exit)
                cols["cwd"].append(state.intern(state.cwds, rec.cwd, cwd_ids))
                cols["day"].append(d)
                cols["host"].append(state.intern(state.hosts, rec.host, host_ids))
                cols["session"].append(state.intern(state.sessions, rec.session, session_ids))

    labels = state.label_of()
    new_cmds = list(dict.fromkeys(c for c in cols["cmd"] if c not in labels))
    _embed_new(state, embedder, purposes, new_cmds, progress)
    report.embedded = len(new_cmds)

    state.rec_key = np.concatenate([state.rec_key[keep], np.asarray(cols["key"], dtype="S16")])
    state.rec_label = np.concatenate(
        [state.rec_label[keep], np.asarray([labels[c] for c in cols["cmd"]], dtype=np.int64)]
    )
    state.rec_ns = np.concatenate([state.rec_ns[keep], np.asarray(cols["ns"], dtype=np.int64)])
    state.rec_exit = np.concatenate(
        [state.rec_exit[keep], np.asarray(cols["exit"], dtype=np.int32)]
    )
    state.rec_cwd = np.concatenate([state.rec_cwd[keep], np.asarray(cols["cwd"], dtype=np.int32)])
    state.rec_day = np.concatenate([state.rec_day[keep], np.asarray(cols["day"], dtype=np.int32)])
    for c in ("host", "session"):
        old = getattr(state, f"rec_{c}")
        new = np.asarray(cols[c], dtype=np.int32)
        setattr(state, f"rec_{c}", np.concatenate([old[keep], new]))
    kept = int(keep.sum())
    report.records_removed = old_n - kept
    report.records_added = len(state) - kept
    for day in gone:
        state.days.pop(day, None)
    for day in redo:
        state.days[day] = now[day]

    dead = np.flatnonzero(state.alive & (state.counts() == 0))
    if len(dead):
        assert state.vectors is not None
        full = dead[state.upgraded[dead]]
        if len(full):
            state.vectors.remove(full)
            state.vectors = state.vectors.compacted()  # removed vectors must leave the file
        if state.static is not None and len(full) < len(dead):
            state.static.remove(dead[~state.upgraded[dead]])
            state.static = state.static.compacted()
        state.alive[dead] = False
        for i in dead:
            labels.pop(state.commands[i], None)
            state.commands[i] = ""
        report.vectors_removed = len(dead)
    if report.embedded or report.vectors_removed or state.bm25 is None:
        state.bm25 = build_lexical(state, purposes)
    report.pending = len(state.pending())
    return report


def _texts(state: SearchState, labels, purposes) -> list[str]:
    return [embedding_text(state.commands[i], purposes) for i in labels]


def _embed_new(state, embedder, purposes, new_cmds, progress) -> None:
    if not new_cmds:
        return
    if purposes is not None:
        purposes.prepare(new_cmds)
    labels = state.label_of()
    assert state.vectors is not None
    start = len(state.commands)
    for i, c in enumerate(new_cmds):
        labels[c] = start + i
    state.commands.extend(new_cmds)
    state.alive = np.concatenate([state.alive, np.ones(len(new_cmds), dtype=bool)])
    quick = state.static_embedder
    state.upgraded = np.concatenate(
        [state.upgraded, np.full(len(new_cmds), quick is None, dtype=bool)]
    )
    if quick is None:
        _embed_full(state, embedder, purposes, np.arange(start, len(state.commands)), progress)
        return
    alive = np.flatnonzero(state.alive)
    if quick.weights is None or len(alive) >= REFIT_GROWTH * max(state.static_fit_n, 1):
        # weights fitted on a handful of commands would weigh pieces badly for good: refit
        # on the whole memory, and redo the static vectors made with the old weights
        pieces = quick.pieces(_texts(state, alive, purposes))
        state.static_weights = quick.fit_pieces(pieces)
        state.static_fit_n = len(alive)
        state.static = VectorIndex(state.dim, **STATIC_GRAPH)
        still = np.flatnonzero(~state.upgraded[alive])
        todo = alive[still]
        pieces = [pieces[k] for k in still.tolist()]
    else:
        todo = np.arange(start, len(state.commands))
        pieces = quick.pieces(_texts(state, todo, purposes))
    if state.static is None:
        state.static = VectorIndex(state.dim, **STATIC_GRAPH)
    for s in range(0, len(todo), STATIC_BATCH):
        part = todo[s : s + STATIC_BATCH]
        state.static.add(part, quick.embed_pieces(pieces[s : s + STATIC_BATCH]))
        if progress is not None:
            progress(s + len(part), len(todo))
    quick.table.save()


def _embed_full(state, embedder, purposes, todo: np.ndarray, progress) -> None:
    assert state.vectors is not None
    for s in range(0, len(todo), EMBED_BATCH):
        part = todo[s : s + EMBED_BATCH]
        vecs = np.asarray(embedder.embed(_texts(state, part, purposes)))
        state.vectors.add(part, vecs)
        if progress is not None:
            progress(s + len(part), len(todo))


def upgrade_order(state: SearchState) -> np.ndarray:
    """Labels still static, most used first (then most recent): what people search for."""
    pending = state.pending()
    if not len(pending):
        return pending
    counts = state.counts()[pending]
    latest = np.full(len(state.commands), -1, dtype=np.int64)
    np.maximum.at(latest, state.rec_label, state.rec_ns)
    return pending[np.lexsort((pending, -latest[pending], -counts))]


def upgrade(
    state: SearchState,
    embedder,
    purposes: Purposes | None,
    limit: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Replace up to ``limit`` static vectors by the full model's; how many were replaced.

    One call embeds its texts in one ``embed`` call, so the embedder batches them by length.
    Nothing is lost if the process dies: the saved generation keeps its static vectors, and
    the next call starts where the last saved one ended.
    """
    todo = upgrade_order(state)[: max(0, limit)]
    if not len(todo):
        return 0
    assert state.vectors is not None
    state.vectors.add(todo, np.asarray(embedder.embed(_texts(state, todo, purposes))))
    if state.static is not None:
        state.static.remove(todo)
    state.upgraded[todo] = True
    if not len(state.pending()):
        state.static = None  # every vector is a full one: the static file goes
    if progress is not None:
        progress(len(todo), len(todo))
    return len(todo)


def build_lexical(state: SearchState, purposes: Purposes | None) -> Bm25:
    """BM25 over each command and its programs' purposes (stemmed), one document per label."""
    return Bm25.build(
        [embedding_text(c, purposes) if c else "" for c in state.commands], stemmed=True
    )
