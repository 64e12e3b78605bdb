"""Ranking history candidates by context, and dropping those whose paths are gone.

A candidate is a distinct command that starts with what was typed. Its score is a
probability: how likely it is the command being typed, given the previous command and the
history. It is an interpolated (Jelinek-Mercer) mixture of estimates, each a distribution
over the candidates, weighted by :class:`Weights`:

- ``successor``: how often it followed the previous command (``successors`` table), as a
  share of the previous command's successors: a bigram.
- ``successor_recency``: the previous command's successors by their last use, the latest
  first, decaying geometrically: zsh-autosuggestions' ``match_prev_cmd``, softened.
- ``recency``: every candidate by its last use, decaying geometrically (fish, zsh's
  ``history``).
- ``frequency``: its use count as a share of the candidates' uses.
- ``floor``: the same for every candidate, so that none is impossible.

An estimate without an answer (no previous command, or it has no successors with this
prefix) leaves the mixture, and the others share its weight.

On top of that mixture sits a longer context: what followed the previous *two* commands
(``successors2``, a trigram). Its distribution is interpolated with the mixture as a
Witten-Bell back-off: with ``n`` such observations spread over ``u`` distinct commands it
gets the weight ``n / (n + context_backoff * u)``, so a pair of commands seen often, always
followed by the same command, decides, and one seen once barely counts. Context then reweighs the
mixture log-linearly: ``cwd`` (it was last run in this directory), ``git`` (inside this
directory's repository), ``success`` (the share of its runs that exited 0) and ``feedback``
(accepted minus rejected suggestions of it, squashed to [-1, 1]); the result is normalised
again. :func:`delta_core.suggest.engine.combine` mixes it with the model's probability.

A command that ran at least :data:`ALWAYS_FAILS_RUNS` times and never exited 0 (a typo such
as ``gti status``) is not offered; the fix the memory learned for it is offered in its place:
the similar command that followed it and succeeded (:func:`learned_fix`).
:func:`screen_failing` does the same for the model's completions.

The same code ranks for the live shell (an :class:`~delta_core.suggest.history.IndexHistory`)
and for ``delta eval`` (a :class:`~delta_core.suggest.history.MemoryHistory`).
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass
from functools import lru_cache

from delta_core.memory.index import CommandStats
from delta_core.plugin.protocols import Suggestion, SuggestQuery
from delta_core.suggest.history import SCAN_LIMIT, HistoryView

RECENT_CANDIDATES = 50
#: Previous commands a query carries (``SuggestQuery.previous``): the trigram reads the last
#: two, :func:`session_copies` all of them. The shell, the CLI, the weight fit and ``delta
#: eval`` all pass this many, so what is measured is what is shown.
QUERY_PREVIOUS = 5
#: A previous command longer than this lends no words to :func:`session_copies`: nobody
#: retypes parts of a pasted blob, and its words and their tails would cost a walk that grows
#: with the square of its length on every keystroke.
COPY_CHARS = 1000
SUCCESSOR_LIMIT = 200
_GLOB = set("*?[]{}$`")
#: Runs without a single success after which a command is not offered again.
ALWAYS_FAILS_RUNS = 2
#: How alike a failed command and its fix are (difflib's ratio), as in ``knowledge.fixes``.
FIX_SIMILARITY = 0.7


@dataclass(frozen=True)
class Weights:
    """Mixture weights of the estimates (any scale), their decays, and the log-linear boosts.

    The mixture weights and decays were chosen on users that ``benchmarks/eval_users.py``
    does not report (Schonlau SEA User11-User13, Purdue USER6 and USER8): a grid of 12
    settings scored by mean top-1 + keystroke savings with a small model; the surface is
    flat (1.125 to 1.131 over the grid), this is its best point. EM on the same commands
    (maximum likelihood) puts more on ``successor``, which ranks worse on Purdue users.
    ``context_backoff`` was chosen the same way, history alone (no model), on those users and
    SEA User14-User20 and Purdue USER4/USER5: 2, 4 and 8 scored 1.257, 1.258 and 1.251 (mean
    top-1 + keystroke savings); the mixture's weights were left as they were.
    """

    successor: float = 0.4
    successor_recency: float = 0.2
    recency: float = 0.2
    frequency: float = 0.15
    floor: float = 0.05
    #: share of the probability each step down the last-use order keeps
    recency_decay: float = 0.5
    successor_decay: float = 0.5
    #: the trigram's Witten-Bell constant (larger: trust a short record of two commands less)
    context_backoff: float = 4.0
    cwd: float = 0.5
    git: float = 0.25
    success: float = 0.3
    feedback: float = 0.5
    #: the share of the probability given to words copied from the session's last commands
    #: (:func:`session_copies`) once the command's name is typed
    copy: float = 0.3
    #: share each step back in the session keeps for the words of that command
    copy_decay: float = 0.5
    #: weight of a copied word taken with the rest of its command (``vim a.py b.py`` ->
    #: ``git add a.py b.py``) beside the word alone
    copy_tail: float = 1.0
    #: the share of the recent habits (fading counts, :mod:`delta_core.suggest.habits`)
    #: against everything above
    habits: float = 0.7


#: Commands the recent habits may add to a keystroke's candidates beyond those the index
#: scans found (each costs an index read).
HABITS_JOIN = 16


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


def gather(
    view: HistoryView, query: SuggestQuery
) -> tuple[
    dict[str, CommandStats], list[str], dict[str, tuple[int, int]], dict[str, tuple[int, int]]
]:
    """The candidate pool: a prefix scan, the recent matches, the successors of the previous
    command and those of the previous two (``command -> (count, last_ns)``)."""
    prefix = query.prefix
    pool = {st.command: st for st in view.prefix_stats(prefix, SCAN_LIMIT)}
    recent = view.recent(prefix, RECENT_CANDIDATES)
    prev = query.previous[-1] if query.previous else None
    succ: dict[str, tuple[int, int]] = {}
    succ2: dict[str, tuple[int, int]] = {}
    if prev is not None:
        succ = {c: (n, last) for c, n, last in view.successors(prev, prefix, SUCCESSOR_LIMIT)}
    if succ and len(query.previous) > 1:  # no pair of two without a pair of one
        found = view.successors2(query.previous[-2], prev, prefix, SUCCESSOR_LIMIT)
        succ2 = {c: (n, last) for c, n, last in found}
    for cmd in (*recent, *succ, *succ2):
        if cmd not in pool:
            st = view.stats(cmd)
            if st is not None:
                pool[cmd] = st
    return pool, recent, succ, succ2


def _geometric(order: list[str], decay: float) -> dict[str, float]:
    """A distribution over ``order`` falling by ``decay`` at each step (the first most likely)."""
    raw = {c: decay**i for i, c in enumerate(order)}
    total = sum(raw.values())
    return {c: v / total for c, v in raw.items()}


def history_estimates(
    view: HistoryView, query: SuggestQuery, weights: Weights = Weights()
) -> tuple[dict[str, CommandStats], dict[str, dict[str, float]], tuple[dict[str, float], float]]:
    """The candidates, each estimate of the mixture that has an answer as a distribution over
    them, and the trigram's distribution with its back-off weight (``({}, 0.0)`` when the
    previous two commands were never followed by a candidate)."""
    pool, recent, succ, succ2 = gather(view, query)
    if query.prefix:
        pool.pop(query.prefix, None)  # already typed in full: nothing to add
    if not pool:
        return pool, {}, ({}, 0.0)
    succ = {c: v for c, v in succ.items() if c in pool}
    context: tuple[dict[str, float], float] = ({}, 0.0)
    seen = {c: n for c, (n, _) in succ2.items() if c in pool}
    if seen:
        n = sum(seen.values())
        lam = n / (n + weights.context_backoff * len(seen))
        context = ({c: k / n for c, k in seen.items()}, lam)
    out: dict[str, dict[str, float]] = {}
    if succ:
        n = sum(count for count, _ in succ.values())
        out["successor"] = {c: count / n for c, (count, _) in succ.items()}
        latest = sorted(succ, key=lambda c: -succ[c][1])
        out["successor_recency"] = _geometric(latest, weights.successor_decay)
    ranked = [c for c in recent if c in pool]
    if ranked:
        out["recency"] = _geometric(ranked, weights.recency_decay)
    uses = sum(st.count for st in pool.values())
    if uses:
        out["frequency"] = {c: st.count / uses for c, st in pool.items()}
    out["floor"] = dict.fromkeys(pool, 1 / len(pool))
    return pool, out, context


def session_copies(query: SuggestQuery, decay: float = 0.5, tail: float = 1.0) -> dict[str, float]:
    """What is typed, its last word completed by an argument of the session's last commands.

    People name again what they just named: ``vim src/parse.py`` then ``git add src/parse.py``,
    ``mkdir build`` then ``cd build``. Such a command is new to history, so no count knows it;
    the words of ``query.previous`` (arguments only, the newest command first, each
    command's words falling by ``decay``; none of a command over :data:`COPY_CHARS`)
    complete the word being typed, and the command ends there — or goes on with the rest of
    that command (weighted ``tail``: ``vim a.py b.py`` then ``git add a.py b.py``). Only once
    the command's name is typed (a space in the prefix): before that nothing says which
    program the word belongs to. A distribution (sums to 1), or empty.
    """
    prefix = query.prefix
    cut = prefix.rfind(" ")
    if cut <= 0 or not prefix[:cut].strip():
        return {}
    head, part = prefix[: cut + 1], prefix[cut + 1 :]
    raw: dict[str, float] = {}
    weight = 1.0
    for prev in reversed(query.previous):
        words = prev.split()[1:] if len(prev) <= COPY_CHARS else []
        for i, word in enumerate(words):
            if len(word) <= len(part) or not word.startswith(part) or len(word) < 3:
                continue
            if word.startswith("-") or _unbalanced(word):
                continue
            cmd = head + word
            raw[cmd] = raw.get(cmd, 0.0) + weight / len(words)
            if tail and i + 1 < len(words):  # the word with the rest of its command
                longer = head + " ".join(words[i:])
                raw[longer] = raw.get(longer, 0.0) + tail * weight / len(words)
        weight *= decay
    total = sum(raw.values())
    return {c: v / total for c, v in raw.items()} if total else {}


def _shape(word: str) -> tuple[bool, bool]:
    """What kind of word: a path (has ``/``), a file name (has an extension)."""
    return "/" in word, "." in word.rsplit("/", 1)[-1].lstrip(".")


def _alike(copies: dict[str, float], probs: dict[str, float], prefix: str) -> dict[str, float]:
    """The copies whose word is of a kind history has put in that place after the same
    words: a file is not copied where history only ever had branch names (``git push -u
    origin tests/x.py``). Where history has nothing after those words, every copy stays."""
    head = prefix[: prefix.rfind(" ") + 1]
    kinds = set()
    for cmd in probs:
        if cmd.startswith(head):
            rest = cmd[len(head) :].split(" ", 1)[0]
            if rest and not rest.startswith("-"):  # a flag says nothing of the arguments
                kinds.add(_shape(rest))
    if not kinds:
        return copies
    kept = {c: p for c, p in copies.items() if _shape(c[len(head) :]) in kinds}
    total = sum(kept.values())
    return {c: p / total for c, p in kept.items()} if total else {}


def _unbalanced(word: str) -> bool:
    """A word cut out of a quoted string (``'fix`` of ``-m 'fix login'``)."""
    return word.count("'") % 2 == 1 or word.count('"') % 2 == 1


def history_distribution(
    view: HistoryView, query: SuggestQuery, weights: Weights = Weights()
) -> dict[str, float]:
    """Every candidate extending ``query.prefix`` with its probability (they sum to 1):
    history's own (:func:`history_counts`) and, with the share ``weights.copy``, the
    session's words completing the typed one (:func:`session_copies`)."""
    probs = history_counts(view, query, weights)
    copies = (
        session_copies(query, weights.copy_decay, weights.copy_tail) if weights.copy > 0 else {}
    )
    if not copies:
        return probs
    if not probs:
        return copies
    copies = _alike(copies, probs, query.prefix)
    if not copies:
        return probs
    lam = weights.copy
    out = {c: (1 - lam) * p for c, p in probs.items()}
    for c, p in copies.items():
        out[c] = out.get(c, 0.0) + lam * p
    return out


def history_counts(
    view: HistoryView, query: SuggestQuery, weights: Weights = Weights()
) -> dict[str, float]:
    """Every history command extending ``query.prefix`` with its probability (sum 1)."""
    pool, parts, (context, lam) = history_estimates(view, query, weights)
    recent = recent_habits(view, query, pool) if weights.habits else {}
    if not pool:
        return {}
    w = weights
    total_w = sum(getattr(w, name) for name in parts) or 1.0
    probs = dict.fromkeys(pool, 0.0)
    for name, dist in parts.items():
        share = getattr(w, name) / total_w
        for c, p in dist.items():
            probs[c] += share * p
    if context:  # the longer context, backing off to the mixture
        for c in probs:
            probs[c] = lam * context.get(c, 0.0) + (1 - lam) * probs[c]
    if recent:  # what the user has been doing lately outweighs all-time counts
        mu = w.habits
        for c in probs:
            probs[c] = mu * recent.get(c, 0.0) + (1 - mu) * probs[c]
    here = query.cwd
    repo = git_root(here) if here else ""
    for cmd, st in pool.items():
        boost = 0.0
        if here and st.last_cwd:
            if st.last_cwd == here:
                boost += w.cwd
            elif repo and st.last_cwd.startswith(repo):
                boost += w.git
        runs = st.successes + st.failures
        if runs:
            boost += w.success * (st.successes / runs - 0.5)
        if boost:
            probs[cmd] *= math.exp(boost)
    total = sum(probs.values())
    return {c: p / total for c, p in probs.items()}


def recent_habits(
    view: HistoryView, query: SuggestQuery, pool: dict[str, CommandStats]
) -> dict[str, float]:
    """The recent habits' distribution (:mod:`delta_core.suggest.habits`) over the
    candidates; a command they name that the pool lacks joins it (with its statistics)."""
    habits = getattr(view, "habits", None)
    if habits is None:
        return {}
    found = habits.distribution(query.previous, query.prefix)
    joining = [c for c in found if c not in pool]
    if len(joining) > HABITS_JOIN:  # one index read each: the likeliest only
        joining = sorted(joining, key=found.__getitem__, reverse=True)[:HABITS_JOIN]
    for cmd in joining:
        st = view.stats(cmd)
        if st is not None:
            pool[cmd] = st
    kept = {c: p for c, p in found.items() if c in pool}
    total = sum(kept.values())
    return {c: p / total for c, p in kept.items()} if total else {}


def similar(a: str, b: str) -> bool:
    """Whether ``b`` reads like a correction of ``a`` (different, but mostly the same)."""
    if a == b:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= FIX_SIMILARITY


def always_fails(st: CommandStats | None) -> bool:
    """Ran :data:`ALWAYS_FAILS_RUNS` times or more, and never exited 0."""
    return st is not None and st.successes == 0 and st.failures >= ALWAYS_FAILS_RUNS


def learned_fix(view: HistoryView, failed: str, prefix: str = "") -> str | None:
    """What the user ran instead of ``failed``: the similar command that followed it most
    often and succeeded (and extends ``prefix``), or None when the memory learned none."""
    best: tuple[int, str] | None = None
    for cmd, count, _ in view.successors(failed, prefix, SUCCESSOR_LIMIT):
        if not similar(failed, cmd):
            continue
        st = view.stats(cmd)
        if st is None or not st.successes:
            continue
        if best is None or count > best[0]:
            best = (count, cmd)
    return best[1] if best else None


def screen_failing(
    view: HistoryView, suggestions: list[Suggestion], prefix: str
) -> list[Suggestion]:
    """``suggestions`` with every always-failing command replaced by its learned fix (with
    its score) or dropped when there is none; no command twice."""
    out: list[Suggestion] = []
    seen: set[str] = set()
    for s in suggestions:
        if always_fails(view.stats(s.command)):
            fix = learned_fix(view, s.command, prefix)
            if fix is None or fix == prefix:
                continue
            s = Suggestion(fix, s.score, s.source)
        if s.command not in seen:
            seen.add(s.command)
            out.append(s)
    return out


def rank_history(
    view: HistoryView,
    query: SuggestQuery,
    weights: Weights = Weights(),
    check_paths: bool = True,
    probs: dict[str, float] | None = None,
) -> list[Suggestion]:
    """The best ``query.limit`` history commands extending ``query.prefix``, best first.

    Each score is the command's probability (:func:`history_distribution`, or ``probs`` when
    the caller has it already), reweighed by past feedback on the few best.
    """
    if probs is None:
        probs = history_distribution(view, query, weights)
    w = weights
    out: list[Suggestion] = []
    for cmd in sorted(probs, key=lambda c: (-probs[c], c)):
        if check_paths and not paths_exist(cmd, query.cwd):
            continue
        s = probs[cmd]
        acc, rej = view.feedback(cmd) if w.feedback else (0, 0)
        if acc or rej:
            s *= math.exp(w.feedback * math.tanh((acc - rej) / 2))
        out.append(Suggestion(cmd, s, "history"))
        if len(out) >= query.limit + 3:  # a little slack: feedback may reorder the tail
            break
    out = screen_failing(view, out, query.prefix)
    out.sort(key=lambda x: -x.score)
    return out[: query.limit]
