"""The import pipeline every importer feeds: filters, identities, batching, progress.

Importers yield records in the order they ran, with ``start_ns == 0`` when the source has no
time. Those get the import's start time plus their position (so order is kept) and an origin
(importer, file, position, command), so importing the same file again adds nothing.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path

from delta_core.memory.encoded_batch import EncodedBatch, encode_batch
from delta_core.memory.privacy import apply_filters
from delta_core.memory.store import AddResult, Store
from delta_core.plugin.protocols import Importer, ImportProblem, PrivacyFilter, Verdict
from delta_core.records.checks import record_problem
from delta_core.records.record import Record, local_utc_offset_minutes

BATCH = 20_000
VERDICT_MEMO = 200_000
FOLD_EVERY = 100_000  # records folded into the index at once, at most


@dataclass
class ImportSummary:
    """What an import did, line by line problems included."""

    read: int = 0
    added: int = 0
    duplicates: int = 0
    dropped: int = 0
    redacted: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0

    def add(self, stored: AddResult) -> None:
        """Count what the store did with a batch."""
        self.added += stored.added
        self.duplicates += stored.duplicates


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while an import creates millions of objects.

    Records and batches hold no reference cycles, so reference counting frees them; the
    collector would only scan them over and over (measured: 2 µs of a zsh line's 4.6 µs).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def prepare_batches(
    items: Iterable[Record | ImportProblem],
    filters: Sequence[PrivacyFilter],
    summary: ImportSummary,
    *,
    source: str,
    batch: int = BATCH,
) -> Iterator[tuple[list[Record], list[bytes | None] | None]]:
    """Filtered records in batches, with the import origin of each that carried no time.

    The origins list is aligned with the records (``None`` for a record with its own time),
    or ``None`` when every record of the batch has a time.
    Counts what it reads, drops and redacts, and collects problems, in ``summary``.
    The same command at the same start time in the same session, seen again, is a second run
    (a history with one-second times) and starts a microsecond later per repeat, so it stays
    a record of its own; its first run keeps the time it had, so re-importing a history
    stored before adds only the runs that were merged then.
    """
    now_ns = time.time_ns()
    offset = local_utc_offset_minutes(now_ns)
    records: list[Record] = []
    origins: list[bytes | None] = []
    timeless = False
    position = 0
    src = source.encode("utf-8", "surrogatepass")
    verdicts: dict[tuple[str, str], Verdict] = {}
    # records that share one start time, so far: (command, session) -> how many
    run_ns, run_first, run_seen = -1, ("", ""), None
    for item in items:
        if isinstance(item, ImportProblem):
            summary.problems.append(item)
            continue
        summary.read += 1
        position += 1
        why = record_problem(item)
        if why is not None:  # the door every importer's records pass, plugins' included
            summary.problems.append(ImportProblem(0, f"record {position}: {why}; skipped"))
            continue
        if filters:
            # Histories repeat themselves; filters are pure, so each (command, cwd) is judged once.
            memo_key = (item.command, item.cwd)
            verdict = verdicts.get(memo_key)
            if verdict is None:
                if len(verdicts) >= VERDICT_MEMO:
                    verdicts.clear()
                verdict = verdicts[memo_key] = apply_filters(filters, item.command, item.cwd)
            if verdict.action == "drop":
                summary.dropped += 1
                continue
            if verdict.action == "redact":
                summary.redacted += 1
                item.command = verdict.command
        start = item.start_ns
        if start and start == run_ns:
            # the same moment again: a history with one-second times (bash, zsh) holds the
            # same command twice within a second; each run is its own record
            if run_seen is None:
                run_seen = {run_first: 1}
            mark = (item.command, item.session)
            k = run_seen.get(mark, 0)
            run_seen[mark] = k + 1
            if k:
                item.start_ns = start + k * 1000  # a microsecond per repeat, in file order
        elif start:
            run_ns, run_first, run_seen = start, (item.command, item.session), None
        if item.start_ns == 0:
            item.start_ns = now_ns + position * 1000
            item.utc_offset = offset
            origins.append(
                blake2b(
                    b"%b\x00%d\x00%b"
                    % (src, position, item.command.encode("utf-8", "surrogatepass")),
                    digest_size=16,
                ).digest()
            )
            timeless = True
        else:
            origins.append(None)
        records.append(item)
        if len(records) >= batch:
            yield records, (origins if timeless else None)
            records, origins, timeless = [], [], False
    if records:
        yield records, (origins if timeless else None)


class FoldPlan:
    """Which batches stored with ``fold=False`` may go into the index in one fold.

    Folding several batches at once merges each distinct command and pair once, not once
    per batch; the index it builds is the one folding each batch in turn builds as long as
    every stream (session) of a batch runs after what the pending batches hold of it. A
    record older than its session's newest adds no pair when it comes in a later fold, and
    its pairs when it comes in the same fold (see :mod:`delta_core.memory.index`), so a
    batch that steps back in time is folded on its own, as before.
    """

    def __init__(self) -> None:
        self._newest: dict[str, tuple[int, int, str]] = {}  # stream -> newest pending order

    def joins(self, batch: EncodedBatch) -> bool:
        """Whether ``batch`` may be folded with the pending batches; it is pending after."""
        spans: dict[str, tuple[tuple[int, int, str], tuple[int, int, str]]] = {}
        for day_batch in batch.values():
            cols = day_batch.cols
            orders = list(zip(cols.days, cols.starts, cols.ids, strict=True))
            streams = cols.streams
            if not streams:
                continue
            if streams.count(streams[0]) == len(streams):
                by_stream = {streams[0]: orders}
            else:
                by_stream = {}
                for sid, order in zip(streams, orders, strict=True):
                    by_stream.setdefault(sid, []).append(order)
            for sid, rows in by_stream.items():
                low, high = min(rows), max(rows)
                if sid in spans:
                    low, high = min(low, spans[sid][0]), max(high, spans[sid][1])
                spans[sid] = (low, high)
        newest = self._newest
        joins = all(low > newest[sid] for sid, (low, _) in spans.items() if sid in newest)
        if not joins:
            newest.clear()
        for sid, (_, high) in spans.items():
            if sid not in newest or high > newest[sid]:
                newest[sid] = high
        return joins

    def folded(self) -> None:
        """Nothing is pending any more."""
        self._newest.clear()


def store_batch(store: Store, batch: EncodedBatch, plan: FoldPlan) -> AddResult:
    """Store an import's batch, folding the index in big steps (every :data:`FOLD_EVERY`
    records, at most) where that builds the index folding each batch would."""
    if not plan.joins(batch):
        store.fold_pending()
    stored = store.add_encoded(batch, fold=False)
    if store.unfolded() >= FOLD_EVERY:
        store.fold_pending()
        plan.folded()
    return stored


def import_records(
    store: Store,
    items: Iterable[Record | ImportProblem],
    filters: Iterable[PrivacyFilter],
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Filter and store what an importer yields; ``source`` names the input for origins."""
    summary = ImportSummary()
    t0 = time.perf_counter()
    with paused_gc():
        batches = prepare_batches(items, list(filters), summary, source=source, batch=BATCH)
        plan = FoldPlan()
        for records, origins in batches:
            summary.add(store_batch(store, encode_batch(records, origins), plan))
            if progress is not None:
                progress(len(records))
        store.fold_pending()  # with the collector still paused
    store.sync()
    summary.seconds = time.perf_counter() - t0
    return summary


def _has_content(path: Path) -> bool:
    try:
        if path.is_dir():
            return any(True for _ in path.iterdir())
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def detect_sources(
    importers: Mapping[str, Importer], home: Path, env: Mapping[str, str]
) -> list[tuple[str, Path]]:
    """``(importer name, path)`` for every shell history that exists here (``--from auto``).

    Each importer contributes the first of its usual places that holds something; a file two
    importers could claim (one ``$HISTFILE``) goes to the first that names it.
    """
    found: list[tuple[str, Path]] = []
    claimed: set[Path] = set()
    for name in sorted(importers):
        try:
            paths = importers[name].default_paths(home, env)
        except Exception:  # a third-party importer's bug must not stop the others
            continue
        for p in paths:
            key = p.resolve() if p.exists() else p
            if key in claimed or not _has_content(p):
                continue
            claimed.add(key)
            found.append((name, p))
            break
    return found
