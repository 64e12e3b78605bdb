"""Ranking history candidates by context, and dropping those whose paths are gone.

A candidate is a distinct command that starts with what was typed. Its score adds up
features, each in [0, 1] and weighted by :class:`Weights`:

- ``successor``: how often it followed the previous command (``successors`` table), as a
  share of the previous command's uses — zsh-autosuggestions' ``match_prev_cmd``, counted.
- ``recency``: 1 for the most recent match, 1/2 for the next … (fish, zsh's ``history``).
- ``frequency``: its use count on a log scale against the most used candidate.
- ``cwd``: it was last run in this directory; ``git``: inside this directory's repository.
- ``success``: the share of its runs that exited 0 (when exit statuses are known).
- ``feedback``: accepted minus rejected suggestions of it, squashed to [-1, 1].

The same code ranks for the live shell (an :class:`~delta_core.history_view.IndexHistory`)
and for ``delta eval`` (a :class:`~delta_core.history_view.MemoryHistory`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

from delta_core.components import Suggestion, SuggestQuery
from delta_core.history_view import SCAN_LIMIT, HistoryView
from delta_core.index import CommandStats

RECENT_CANDIDATES = 50
SUCCESSOR_LIMIT = 200
_GLOB = set("*?[]{}$`")


@dataclass(frozen=True)
class Weights:
    successor: float = 3.0
    recency: float = 1.0
    frequency: float = 1.0
    cwd: float = 0.5
    git: float = 0.25
    success: float = 0.3
    feedback: float = 0.5


@lru_cache(maxsize=256)
def git_root(cwd: str) -> str:
    """The repository containing ``cwd`` ('' when none); cached, a few stats the first time."""
    path = cwd
    while path and path != os.path.dirname(path):
        if os.path.exists(os.path.join(path, ".git")):
            return path
        path = os.path.dirname(path)
    return ""


def _resolve(word: str, cwd: str) -> str | None:
    word = os.path.expanduser(word)
    if os.path.isabs(word):
        return word
    return os.path.join(cwd, word) if cwd else None


def paths_exist(command: str, cwd: str) -> bool:
    """False when ``command`` cds into, or names, a path that does not exist (as fish does).

    Only words that are clearly paths are checked: the target of ``cd``, and arguments
    starting with ``/``, ``~/``, ``./`` or ``../`` without glob or variable characters.
    """
    words = command.split()
    if not words:
        return True
    for i, word in enumerate(words[1:], 1):
        is_cd_target = i == 1 and words[0] == "cd" and word != "-" and not word.startswith("-")
        looks_like_path = word.startswith(("/", "~/", "./", "../")) or is_cd_target
        if not looks_like_path or _GLOB & set(word) or "=" in word:
            continue
        path = _resolve(word, cwd)
        if path is None:
            continue
        if not (os.path.isdir(path) if is_cd_target else os.path.exists(path)):
            return False
    return True


def gather(view: HistoryView, query: SuggestQuery) -> tuple[dict[str, CommandStats], list, dict]:
    """The candidate pool: a prefix scan, the recent matches and the successors."""
    prefix = query.prefix
    pool = {st.command: st for st in view.prefix_stats(prefix, SCAN_LIMIT)}
    recent = view.recent(prefix, RECENT_CANDIDATES)
    prev = query.previous[-1] if query.previous else None
    succ = dict(view.successors(prev, prefix, SUCCESSOR_LIMIT)) if prev is not None else {}
    for cmd in (*recent, *succ):
        if cmd not in pool:
            st = view.stats(cmd)
            if st is not None:
                pool[cmd] = st
    return pool, recent, succ


def rank_history(
    view: HistoryView, query: SuggestQuery, weights: Weights = Weights(), check_paths: bool = True
) -> list[Suggestion]:
    """The best ``query.limit`` history commands extending ``query.prefix``, best first."""
    pool, recent, succ = gather(view, query)
    if query.prefix:
        pool.pop(query.prefix, None)  # already typed in full: nothing to add
    if not pool:
        return []
    prev = query.previous[-1] if query.previous else None
    prev_uses = 0
    if prev is not None and succ:
        st = view.stats(prev)
        prev_uses = max(st.count if st else 0, sum(succ.values()))
    rec_rank = {c: i for i, c in enumerate(recent)}
    top = max(st.count for st in pool.values())
    log_top = math.log1p(top)
    here = query.cwd
    repo = git_root(here) if here else ""
    w = weights
    scored = []
    for cmd, st in pool.items():
        s = w.frequency * math.log1p(st.count) / log_top
        r = rec_rank.get(cmd)
        if r is not None:
            s += w.recency / (1 + r)
        n = succ.get(cmd)
        if n:
            s += w.successor * n / prev_uses
        if here and st.last_cwd:
            if st.last_cwd == here:
                s += w.cwd
            elif repo and st.last_cwd.startswith(repo):
                s += w.git
        runs = st.successes + st.failures
        if runs:
            s += w.success * (st.successes / runs - 0.5)
        scored.append((s, cmd))
    scored.sort(reverse=True)
    out: list[Suggestion] = []
    for s, cmd in scored:
        if check_paths and not paths_exist(cmd, here):
            continue
        acc, rej = view.feedback(cmd) if w.feedback else (0, 0)
        if acc or rej:
            s += w.feedback * math.tanh((acc - rej) / 2)
        out.append(Suggestion(cmd, s, "history"))
        if len(out) >= query.limit + 3:  # a little slack: feedback may reorder the tail
            break
    out.sort(key=lambda x: -x.score)
    return out[: query.limit]
