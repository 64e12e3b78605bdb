"""Large imports in two processes: a worker parses, filters and encodes; this one stores.

Parsing and encoding (the importer's and the codec's work) cost about as much as writing the
shards and folding the index, and neither needs the other's process, so on a machine with
two or more cores a large history imports in about half the time. Small files are not worth
a process start (a few hundred milliseconds), and a plugin that a fresh process cannot find
by name (one registered by hand, not through an entry point) makes the import run here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from delta_core import log
from delta_core.context import DeltaContext
from delta_core.imports.pipeline import (
    FoldPlan,
    ImportSummary,
    import_records,
    paused_gc,
    store_batch,
)
from delta_core.imports.worker import FRAME

MB = 1024 * 1024
PARALLEL_MIN_BYTES = 4 * MB
PARALLEL_BATCH = 20_000  # records per frame: small, so both processes start and end together
READ_AHEAD = 8  # frames: the worker can run 160k records ahead of the store


class ImportFailed(RuntimeError):
    """The worker process failed; the message is one line."""


def _history_bytes(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0


def worth_a_process(path: Path) -> bool:
    """Whether importing ``path`` in two processes pays for starting one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2 and _history_bytes(path) >= PARALLEL_MIN_BYTES


def import_path(
    ctx: DeltaContext,
    importer_name: str,
    path: Path,
    *,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
) -> ImportSummary:
    """Import one history file into ``ctx``'s store, in two processes when it is large.

    ``parallel`` forces the choice (tests); by default :func:`worth_a_process` decides.
    """
    source = f"{importer_name}:{path.resolve()}"
    if ctx.store.fold_was_interrupted():
        log.problem(
            "an earlier import was killed before its index was written: rebuilding the index",
            ctx.layout.log_file,
        )
        ctx.store.reindex()
    if parallel is None:
        parallel = worth_a_process(path)
    if parallel:
        summary = _import_in_two_processes(ctx, importer_name, path, source, progress)
        if summary is not None:
            return summary
    importer = ctx.components.importers[importer_name]
    return import_records(
        ctx.store, importer.read(path), ctx.filters, source=source, progress=progress
    )


def _read_frames(stream: BinaryIO, frames: queue.Queue, stop: threading.Event) -> None:
    """Move whole frames from the worker's pipe to ``frames`` (None at the end)."""
    try:
        while not stop.is_set():
            head = stream.read(FRAME.size)
            if len(head) < FRAME.size:
                break
            (size,) = FRAME.unpack(head)
            data = stream.read(size)
            if len(data) < size:
                break
            while not stop.is_set():
                try:
                    frames.put(data, timeout=0.1)
                    break
                except queue.Full:
                    continue
    finally:
        with contextlib.suppress(queue.Full):
            frames.put_nowait(None)


def _frames(stream: BinaryIO) -> Iterator[tuple]:
    """The worker's messages, read ahead by a thread.

    A pipe holds 64 KiB, so without it the worker would wait, frame encoded, for as long as
    this process folds the index (measured: 4.9 s of 11.7 s at 1M records).
    """
    frames: queue.Queue[bytes | None] = queue.Queue(READ_AHEAD)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_frames, args=(stream, frames, stop), name="delta-import-reader", daemon=True
    )
    reader.start()
    try:
        while (data := frames.get()) is not None:
            yield pickle.loads(data)
    finally:
        stop.set()


def _import_in_two_processes(
    ctx: DeltaContext,
    importer_name: str,
    path: Path,
    source: str,
    progress: Callable[[int], None] | None,
) -> ImportSummary | None:
    """The import, or ``None`` when the worker cannot rebuild the plugins in use."""
    job = {
        "root": str(ctx.layout.root),
        "env": ctx.env,
        "importer": importer_name,
        "path": str(path),
        "source": source,
        "batch": PARALLEL_BATCH,
    }
    store = ctx.store
    summary = ImportSummary()
    t0 = time.perf_counter()
    # standard error goes to a file, not a pipe: a chatty plugin cannot block the worker
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "delta_core.imports.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=ctx.env,
        )
        try:
            with paused_gc():
                finished = _store_frames(proc, job, ctx, summary, progress, path)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            store.sync()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if finished is None:
        return None
    if not finished:
        last = stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise ImportFailed(f"import of {path} stopped: the reader process died ({last[0]})")
    summary.seconds = time.perf_counter() - t0
    return summary


def _store_frames(proc, job, ctx, summary, progress, path) -> bool | None:
    """Feed the worker its job and store what it sends: True once it is done.

    The job goes first and the names of the filters in use after it: the worker builds its
    plugins while this process builds its own to name them (both take a few tenths of a
    second, the rule set's regexes mostly).
    """
    assert proc.stdin is not None and proc.stdout is not None
    pickle.dump(job, proc.stdin)
    proc.stdin.flush()
    pickle.dump([f.name for f in ctx.filters], proc.stdin)
    proc.stdin.close()
    store = ctx.store
    plan = FoldPlan()
    for message in _frames(proc.stdout):
        kind = message[0]
        if kind in ("batch", "done"):
            (summary.read, summary.dropped, summary.redacted), problems = message[-2:]
            summary.problems.extend(problems)
        if kind == "batch":
            _, encoded, stored, _, _ = message
            summary.add(store_batch(store, encoded, plan))
            if progress is not None:
                progress(stored)
        elif kind == "done":
            store.fold_pending()  # here, with the collector still paused
            return True
        elif kind == "unavailable":
            return None
        else:
            raise ImportFailed(f"import of {path} failed: {message[1]}")
    return False
