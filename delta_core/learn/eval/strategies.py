"""The strategies ``delta eval`` compares: four baselines and Delta's own engine.

Every strategy answers ``suggest(prefix, k)`` (the best ``k`` full commands starting with
``prefix``; an empty prefix asks for the next command) from the history it has
``observe``-d so far, in memory. The baselines are the published behaviours:

``recent``
    the most recent history entry starting with the prefix (zsh-autosuggestions'
    ``history`` strategy; fish's autosuggestion from history).
``frequent``
    the most used entry starting with the prefix.
``match_prev_cmd``
    zsh-autosuggestions' ``match_prev_cmd``: the most recent entry with the prefix whose
    preceding entry equals the previous command; otherwise as ``recent``.
``bigram``
    the most frequent successor of the previous command with the prefix; otherwise as
    ``frequent``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from delta_core.plugin.protocols import Suggestion, SuggestQuery
from delta_core.records.record import Record
from delta_core.suggest.history import MemoryHistory
from delta_core.suggest.rank import COPY_CHARS, QUERY_PREVIOUS, Weights, rank_history


def _fill(first: Iterable[str], then: Iterable[str], k: int) -> list[str]:
    out: list[str] = []
    for c in (*first, *then):
        if c not in out:
            out.append(c)
            if len(out) >= k:
                break
    return out


class Recent:
    name = "recent"

    def __init__(self, hist: MemoryHistory) -> None:
        self.hist = hist

    def suggest(self, prefix: str, k: int) -> list[str]:
        return [c for c in self.hist.recent(prefix, k + 1) if c != prefix][:k]

    def observe(self, rec: Record) -> None:
        pass  # the shared history is updated by the replay


class Frequent:
    name = "frequent"

    def __init__(self, hist: MemoryHistory) -> None:
        self.hist = hist

    def suggest(self, prefix: str, k: int) -> list[str]:
        stats = self.hist.prefix_stats(prefix, 0)
        ranked = sorted(stats, key=lambda s: (-s.count, -s.last_ns, s.command))
        return [s.command for s in ranked if s.command != prefix][:k]

    def observe(self, rec: Record) -> None:
        pass


class MatchPrevCmd:
    name = "match_prev_cmd"

    def __init__(self, hist: MemoryHistory) -> None:
        self.hist = hist
        self.last_after: dict[str, dict[str, int]] = {}
        self.prev: str | None = None
        self.seq = 0

    def suggest(self, prefix: str, k: int) -> list[str]:
        after = self.last_after.get(self.prev or "", {})
        matches = sorted(
            (c for c in after if c.startswith(prefix) and c != prefix), key=lambda c: -after[c]
        )
        return _fill(matches, Recent(self.hist).suggest(prefix, k), k)

    def observe(self, rec: Record) -> None:
        self.seq += 1
        if self.prev is not None:
            self.last_after.setdefault(self.prev, {})[rec.command] = self.seq
        self.prev = rec.command


class Bigram:
    name = "bigram"

    def __init__(self, hist: MemoryHistory) -> None:
        self.hist = hist
        self.follow: dict[str, Counter[str]] = {}
        self.prev: str | None = None

    def suggest(self, prefix: str, k: int) -> list[str]:
        counts = self.follow.get(self.prev or "", Counter())
        matches = sorted(
            (c for c in counts if c.startswith(prefix) and c != prefix),
            key=lambda c: (-counts[c], c),
        )
        return _fill(matches, Frequent(self.hist).suggest(prefix, k), k)

    def observe(self, rec: Record) -> None:
        if self.prev is not None:
            self.follow.setdefault(self.prev, Counter())[rec.command] += 1
        self.prev = rec.command


class HistoryEngine:
    """Delta's history ranking alone (no model): what the shell shows before a model exists."""

    name = "delta_history"

    def __init__(self, hist: MemoryHistory, weights: Weights | None = None) -> None:
        self.hist = hist
        self.weights = weights or Weights()
        self.previous: list[str] = []
        self.cwd = ""

    def rank(self, prefix: str, k: int) -> list[Suggestion]:
        """The best ``k`` with their probabilities (what :func:`~delta_core.suggest.engine.combine`
        mixes with the model's)."""
        q = SuggestQuery(prefix, self.cwd, tuple(self.previous[-QUERY_PREVIOUS:]), limit=k)
        return rank_history(self.hist, q, self.weights, check_paths=False)

    def suggest(self, prefix: str, k: int) -> list[str]:
        return [s.command for s in self.rank(prefix, k)]

    @property
    def reach(self) -> int:
        """Characters a suggestion can add beyond every history command extending the typed
        text: the longest run of words it may copy from the session (see ``session_copies``)."""
        if not self.weights.copy:
            return 0
        recent = self.previous[-QUERY_PREVIOUS:]
        return max((len(c) for c in recent if len(c) <= COPY_CHARS), default=0)

    def observe(self, rec: Record) -> None:
        self.previous.append(rec.command)
        self.cwd = rec.cwd


BASELINES = (Recent, Frequent, MatchPrevCmd, Bigram)
