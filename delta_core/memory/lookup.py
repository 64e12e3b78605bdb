"""Searching the distinct commands of the index: by prefix, substring or fuzzy match.

Ranking uses frecency (how often and how recently a command was used), so the command a user
most likely means comes first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from delta_core.memory.index import CommandStats
from delta_core.memory.lmdb_env import read_txn
from delta_core.memory.store import Store

MODES = ("prefix", "substring", "fuzzy")


@dataclass
class Hit:
    stats: CommandStats
    score: float


def frecency(st: CommandStats, now_ns: int | None = None) -> float:
    """Frequency damped by age: a command used often last week beats one used once today."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    age_days = max(0.0, (now_ns - st.last_ns) / 86400e9)
    return math.log1p(st.count) / (1.0 + age_days / 7.0)


def fuzzy_score(query: str, text: str) -> float | None:
    """Subsequence match score (higher is better), or None when ``query`` is not in order."""
    pos, score, run = 0, 0.0, 0
    ql, tl = query.lower(), text.lower()
    for ch in ql:
        i = tl.find(ch, pos)
        if i < 0:
            return None
        run = run + 1 if i == pos else 0
        score += 1.0 + run + (2.0 if i == 0 or not tl[i - 1].isalnum() else 0.0)
        pos = i + 1
    return score / (1.0 + 0.01 * len(text))


def search_commands(store: Store, text: str, mode: str = "substring", limit: int = 20) -> list[Hit]:
    """Distinct commands matching ``text``, best first."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    index = store.index
    now = time.time_ns()
    hits: list[Hit] = []
    with read_txn(index.env) as txn:
        source: Iterable[CommandStats] = index.iter_commands(txn, text if mode == "prefix" else "")
        for st in source:
            if mode == "substring":
                if text.lower() not in st.command.lower():
                    continue
                score = frecency(st, now)
            elif mode == "fuzzy":
                f = fuzzy_score(text, st.command)
                if f is None:
                    continue
                score = f + frecency(st, now)
            else:
                score = frecency(st, now)
            hits.append(Hit(st, score))
    hits.sort(key=lambda h: -h.score)
    return hits[:limit]
