"""Knowledge mined from history: project profiles, workflows, alias hints and fixes.

Each miner reads records (``Store.iter_records``) and returns plain dataclasses, so the CLI
can print or serialise them and the suggest engine can call :func:`suggest_fix` right after
a command fails. Nothing here writes: knowledge is recomputed from the memory on demand.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from delta_core.records.record import Record

SESSION_GAP_NS = 30 * 60 * 10**9  # records without a session id split at a 30-minute pause
FIX_WINDOW_NS = 5 * 60 * 10**9  # a correction comes within minutes of the failure


@dataclass
class Profile:
    """The commands one project (git repository, else directory) uses most."""

    project: str
    kind: str  # "git" or "dir"
    records: int
    top: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Workflow:
    """A run of commands that recurs: ``support`` sessions contain it, ``count`` times in all."""

    commands: tuple[str, ...]
    support: int
    count: int


@dataclass
class AliasHint:
    command: str
    count: int
    saved_keystrokes: int
    alias: str


@dataclass
class Fix:
    """A failing command and the form that worked right after it, ``count`` times."""

    failed: str
    fixed: str
    count: int


def sessions(records: Iterable[Record]) -> list[list[Record]]:
    """Records grouped by session id in time order; id-less records split at long pauses."""
    by_id: dict[str, list[Record]] = defaultdict(list)
    loose: list[Record] = []
    for r in records:
        (by_id[r.session] if r.session else loose).append(r)
    out = [sorted(v, key=lambda r: r.start_ns) for v in by_id.values()]
    loose.sort(key=lambda r: r.start_ns)
    current: list[Record] = []
    for r in loose:
        if current and r.start_ns - current[-1].start_ns > SESSION_GAP_NS:
            out.append(current)
            current = []
        current.append(r)
    if current:
        out.append(current)
    return [s for s in out if s]


def profiles(records: Iterable[Record], *, top: int = 10, min_records: int = 3) -> list[Profile]:
    """Per project, its most used commands; projects with the most records first."""
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in records:
        root = r.extra.get("git_root")
        key = ("git", root) if root else ("dir", r.cwd)
        if key[1]:
            counts[key][r.command] += 1
    out = [
        Profile(project=p, kind=k, records=sum(c.values()), top=c.most_common(top))
        for (k, p), c in counts.items()
        if sum(c.values()) >= min_records
    ]
    out.sort(key=lambda p: (-p.records, p.project))
    return out


def workflows(
    groups: Sequence[Sequence[str]],
    *,
    min_len: int = 2,
    max_len: int = 5,
    min_support: int = 3,
    top: int = 20,
) -> list[Workflow]:
    """Frequent contiguous sequences of 2–5 commands across sessions (``groups``).

    Support counts sessions, so one session looping does not make a workflow. Runs of one
    repeated command are not workflows, and a sequence is dropped when a longer one that
    contains it has the same support (it adds nothing).
    """
    support: Counter = Counter()
    total: Counter = Counter()
    for g in groups:
        seen = set()
        for n in range(min_len, max_len + 1):
            for i in range(len(g) - n + 1):
                seq = tuple(g[i : i + n])
                if len(set(seq)) == 1 or any(a == b for a, b in pairwise(seq)):
                    continue
                total[seq] += 1
                seen.add(seq)
        support.update(seen)
    frequent = {s: c for s, c in support.items() if c >= min_support}
    closed = []
    for seq, c in frequent.items():
        longer = [t for t in frequent if len(t) == len(seq) + 1 and (t[1:] == seq or t[:-1] == seq)]
        if any(frequent[t] == c for t in longer):
            continue
        closed.append(Workflow(seq, c, total[seq]))
    closed.sort(key=lambda w: (-w.support * len(w.commands), -w.support, w.commands))
    return closed[:top]


def _alias_name(command: str) -> str:
    words = [w for w in command.split() if not w.startswith("-") and re.match(r"[A-Za-z]", w)]
    return "".join(w[0] for w in words[:4]).lower() or "a"


def alias_hints(
    records: Iterable[Record], *, min_length: int = 15, min_count: int = 5, top: int = 10
) -> list[AliasHint]:
    """Long commands typed often, by keystrokes an alias would save."""
    counts = Counter(r.command for r in records if len(r.command) >= min_length)
    hints = []
    for cmd, n in counts.items():
        if n < min_count:
            continue
        name = _alias_name(cmd)
        hints.append(AliasHint(cmd, n, n * (len(cmd) - len(name)), name))
    hints.sort(key=lambda h: (-h.saved_keystrokes, h.command))
    return hints[:top]


def _similar(a: str, b: str) -> bool:
    if a == b:
        return False
    ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    return ratio >= 0.7


def fixes(groups: Iterable[Sequence[Record]], *, min_count: int = 1) -> list[Fix]:
    """Failing commands followed in the same session by a similar command that succeeded."""
    pairs: Counter = Counter()
    for g in groups:
        for prev, nxt in pairwise(g):
            if not prev.exit or nxt.exit != 0:
                continue
            if nxt.start_ns - prev.start_ns > FIX_WINDOW_NS:
                continue
            if _similar(prev.command, nxt.command):
                pairs[(prev.command, nxt.command)] += 1
    out = [Fix(a, b, n) for (a, b), n in pairs.items() if n >= min_count]
    out.sort(key=lambda f: (-f.count, f.failed))
    return out


def suggest_fix(failed: str, known: Sequence[Fix]) -> str | None:
    """The correction to offer right after ``failed`` failed, from mined fixes.

    An exact past failure gives its past correction. Otherwise a corrected program name is
    carried over (``gti push`` after ``gti status`` -> ``git status`` was learnt gives
    ``git push``). ``None`` when history knows nothing better.
    """
    best: dict[str, tuple[int, str]] = {}
    words: dict[str, Counter] = defaultdict(Counter)
    for f in known:
        if f.count > best.get(f.failed, (0, ""))[0]:
            best[f.failed] = (f.count, f.fixed)
        a, b = f.failed.split(), f.fixed.split()
        if a and b and a[0] != b[0] and a[1:] == b[1:]:
            words[a[0]][b[0]] += f.count
    if failed in best:
        return best[failed][1]
    parts = failed.split(maxsplit=1)
    if parts and parts[0] in words:
        fixed_word = words[parts[0]].most_common(1)[0][0]
        return " ".join([fixed_word, *parts[1:]])
    return None
