"""Suggestion feedback: what the user did with what Delta showed, kept in the index's ``feedback``.

Implicit events come from the shell (:class:`FeedbackTracker`): a suggestion shown and then
run as shown is ``accepted``; shown and then replaced by a different command is
``rejected``; accepted (the ghost text taken) and then changed before running is
``edited``. Explicit events come from ``delta feedback good|bad`` about the last suggestion.

Each event is keyed by the suggested command (its length first, so one prefix scan finds
every event of a command and no other) then time, so the ranking reads a command's counts
with one short cursor walk. Feedback is not derived from the shards: ``reindex`` keeps it.
Only suggested commands are stored here, never what was typed instead, and a suggestion
always comes from the already-filtered history or a model trained on it.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import lmdb

from delta_core.memory.index import PAIR_LIMIT, Index, command_key
from delta_core.memory.lmdb_env import read_txn
from delta_core.memory.store import Store

KINDS = ("accepted", "rejected", "edited", "good", "bad")
POSITIVE = {"accepted": 1.0, "good": 2.0, "edited": 0.5}
NEGATIVE = {"rejected": 1.0, "bad": 2.0}
_KLEN = struct.Struct(">H")
_TIME = struct.Struct(">QI")


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One thing the user did with one suggestion."""

    kind: str
    suggestion: str
    typed: str = ""
    source: str = ""
    session: str = ""
    time_ns: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"feedback must be one of {', '.join(KINDS)}, not {self.kind!r}")


def _head(command: str) -> bytes:
    key = command_key(command, PAIR_LIMIT)
    return _KLEN.pack(len(key)) + key


def record_feedback(store: Store, events: list[FeedbackEvent]) -> None:
    """Store feedback events (one index transaction)."""
    if not events:
        return
    now = time.time_ns()

    def put(txn: lmdb.Transaction) -> None:
        db = store.index.db[b"feedback"]
        for i, ev in enumerate(events):
            t = ev.time_ns or now
            key = _head(ev.suggestion) + _TIME.pack(t, (os.getpid() << 8 | i) & 0xFFFFFFFF)
            data = {**asdict(ev), "time_ns": t}
            txn.put(
                key, json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass"), db=db
            )

    store.write_index(put)


def _decode(value: bytes) -> dict:
    return json.loads(bytes(value).decode("utf-8", "surrogatepass"))


def feedback_counts(index: Index, txn: lmdb.Transaction, command: str) -> tuple[int, int]:
    """``(positive, negative)`` weight of the feedback on ``command`` (rounded)."""
    head = _head(command)
    cur = txn.cursor(db=index.db[b"feedback"])
    pos = neg = 0.0
    if cur.set_range(head):
        for key, value in cur:
            if not key.startswith(head):
                break
            kind = _decode(value)["kind"]
            pos += POSITIVE.get(kind, 0.0)
            neg += NEGATIVE.get(kind, 0.0)
    return round(pos), round(neg)


def iter_feedback(store: Store) -> list[dict]:
    """Every stored feedback event, as dictionaries, oldest first."""
    with read_txn(store.index.env) as txn:
        events = [_decode(v) for _, v in txn.cursor(db=store.index.db[b"feedback"])]
    return sorted(events, key=lambda e: e.get("time_ns", 0))


def forget_feedback(store: Store, match: Callable[[str], bool]) -> int:
    """Delete every feedback event whose suggestion or typed text matches; return how many.

    Feedback is not derived from the shards (``reindex`` keeps it), so ``delta memory
    forget`` and ``prune --filters`` must remove it themselves: an accepted suggestion holds
    the whole command. The store's next compaction of the index drops the freed pages.
    """
    removed = 0

    def drop(txn: lmdb.Transaction) -> None:
        nonlocal removed
        db = store.index.db[b"feedback"]
        doomed = [
            bytes(k)
            for k, v in txn.cursor(db=db)
            if match(str((ev := _decode(v)).get("suggestion", "")))
            or match(str(ev.get("typed", "")))
        ]
        for k in doomed:
            txn.delete(k, db=db)
        removed = len(doomed)

    store.write_index(drop)
    return removed


def feedback_summary(store: Store) -> dict[str, int]:
    """How many events of each kind are stored (``delta memory stats``)."""
    counts = Counter(e.get("kind", "") for e in iter_feedback(store))
    return {k: counts.get(k, 0) for k in KINDS}


def training_weights(store: Store, floor: float = 0.25, cap: float = 3.0) -> dict[str, float]:
    """A weight per suggested command for training: above 1 when accepted, below when not.

    The dataset builder may multiply an example's loss (or repeat it) by its command's
    weight; commands without feedback weigh 1 and are left out of the mapping.
    """
    score: dict[str, float] = {}
    for e in iter_feedback(store):
        cmd = e.get("suggestion", "")
        kind = e.get("kind", "")
        delta = 0.25 * POSITIVE.get(kind, 0.0) - 0.25 * NEGATIVE.get(kind, 0.0)
        score[cmd] = score.get(cmd, 1.0) + delta
    return {c: min(cap, max(floor, w)) for c, w in score.items()}


class FeedbackTracker:
    """Turns what the shell showed and what the user ran into implicit feedback events.

    The shell calls :meth:`shown` whenever a suggestion is displayed (with what was typed),
    :meth:`taken` when the user accepts the ghost text, and :meth:`ran` with the command
    finally run; :meth:`ran` returns the events to store.
    """

    def __init__(self, session: str = "") -> None:
        self.session = session
        self._shown: tuple[str, str, str] | None = None  # suggestion, typed, source
        self._taken: tuple[str, str, str] | None = None
        self.last: tuple[str, str, str] | None = None  # for `delta feedback good|bad`

    def shown(self, suggestion: str, typed: str, source: str = "") -> None:
        if suggestion and suggestion != typed:
            self._shown = (suggestion, typed, source)

    def taken(self, suggestion: str) -> None:
        if self._shown and self._shown[0] == suggestion:
            self._taken = self._shown

    def ran(self, command: str) -> list[FeedbackEvent]:
        events = []
        cand = self._taken or self._shown
        if cand is not None:
            suggestion, typed, source = cand
            if command == suggestion:
                kind = "accepted"
            elif self._taken is not None:
                kind = "edited"
            else:
                kind = "rejected"
            events.append(FeedbackEvent(kind, suggestion, typed, source, self.session))
            self.last = cand
        self._shown = self._taken = None
        return events
