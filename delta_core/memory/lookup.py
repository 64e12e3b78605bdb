"""Searching the distinct commands of the index: by prefix, substring or fuzzy match.

Within the matches, ranking is by frecency (how often and how recently a command was used,
damped when it usually failed), so the command a user most likely means comes first. Fuzzy
matching is rapidfuzz's weighted ratio (typos, swapped letters, words in another order);
its similarity ranks first, in steps of :data:`FUZZY_STEP` points, and frecency orders the
commands within a step. Delta's own commands and redaction placeholders never match (see
:mod:`delta_core.memory.matchable`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from delta_core.memory.index import CommandStats
from delta_core.memory.lmdb_env import read_txn
from delta_core.memory.matchable import is_own_command, match_text
from delta_core.memory.store import Store

MODES = ("prefix", "substring", "fuzzy")
FUZZY_CUTOFF = 75.0  # rapidfuzz WRatio: "gti stauts" ~ "git status" scores 80, "git stash" 74
FUZZY_STEP = 5.0


@dataclass
class Hit:
    stats: CommandStats
    score: float


def frecency(st: CommandStats, now_ns: int | None = None) -> float:
    """Frequency damped by age and failures: often last week beats once today."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    age_days = max(0.0, (now_ns - st.last_ns) / 86400e9)
    fail = st.failures / st.count if st.count else 0.0
    return math.log1p(st.count) * (1.0 - 0.5 * fail) / (1.0 + age_days / 7.0)


def _fuzzy_scorer():
    try:
        from rapidfuzz import fuzz, utils
    except ImportError:  # a base dependency; only a broken install lacks it
        raise ValueError("fuzzy search needs rapidfuzz: pip install rapidfuzz") from None
    return fuzz.WRatio, utils.default_process


def search_commands(store: Store, text: str, mode: str = "substring", limit: int = 20) -> list[Hit]:
    """Distinct commands matching ``text``, best first."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "fuzzy":
        scorer, process = _fuzzy_scorer()
        query = process(text)
    index = store.index
    now = time.time_ns()
    low = text.lower()
    ranked: list[tuple[float, float, Hit]] = []
    with read_txn(index.env) as txn:
        source: Iterable[CommandStats] = index.iter_commands(txn, text if mode == "prefix" else "")
        for st in source:
            if is_own_command(st.command):
                continue
            shown = match_text(st.command)
            step = 0.0
            if mode == "prefix":
                if not shown.startswith(text):
                    continue  # the prefix was in a placeholder
            elif mode == "substring":
                if low not in shown.lower():
                    continue
            else:
                sim = scorer(query, process(shown), score_cutoff=FUZZY_CUTOFF)
                if not sim:
                    continue
                step = math.floor(sim / FUZZY_STEP)
            f = frecency(st, now)
            ranked.append((step, f, Hit(st, step * FUZZY_STEP + f)))
    ranked.sort(key=lambda r: (-r[0], -r[1]))
    return [h for _, _, h in ranked[:limit]]
