"""Usage statistics over a period of the memory: what ``delta memory stats`` shows."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from delta_core.memory.store import Store

PERIODS = {"today": None, "week": 7, "month": 30, "year": 365, "all": None}


def period_start_ns(period: str, now: float | None = None) -> int | None:
    """Start of ``period`` (local midnight for ``today``; rolling days otherwise)."""
    now = time.time() if now is None else now
    if period == "all":
        return None
    if period == "today":
        lt = time.localtime(now)
        return int(time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1)) * 1e9)
    days = PERIODS[period]
    return int((now - days * 86400) * 1e9)


@dataclass
class Stats:
    period: str
    total: int = 0
    unique: int = 0
    with_exit: int = 0
    succeeded: int = 0
    per_day: dict[str, int] = field(default_factory=dict)
    per_hour: list[int] = field(default_factory=lambda: [0] * 24)
    top: list[tuple[str, int]] = field(default_factory=list)
    top_programs: list[tuple[str, int]] = field(default_factory=list)
    feedback: dict[str, int] = field(default_factory=dict)  # suggestion feedback, all time

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.with_exit if self.with_exit else None

    def to_json(self) -> dict:
        d = asdict(self)
        d["success_rate"] = self.success_rate
        d["top"] = [{"command": c, "count": n} for c, n in self.top]
        d["top_programs"] = [{"program": c, "count": n} for c, n in self.top_programs]
        d["busiest_hours"] = sorted(range(24), key=lambda h: -self.per_hour[h])[:3]
        return d


def compute_stats(store: Store, period: str = "all", count: int = 10) -> Stats:
    """Scan the period once (streaming, O(distinct commands) memory)."""
    since = period_start_ns(period)
    st = Stats(period)
    commands: Counter[str] = Counter()
    per_hour: Counter[int] = Counter()  # hours since the epoch, local time
    exits: Counter[int | None] = Counter()
    for start_ns, offset, exit_, command in store.iter_brief(since):
        if since is not None and start_ns < since:
            continue
        commands[command] += 1
        per_hour[(start_ns // 1_000_000_000 + offset * 60) // 3600] += 1
        exits[exit_] += 1
    st.total = sum(exits.values())
    st.with_exit = st.total - exits[None]
    st.succeeded = exits[0]
    st.unique = len(commands)
    per_day: Counter[str] = Counter()
    for hour, n in per_hour.items():
        st.per_hour[hour % 24] += n
        per_day[time.strftime("%Y-%m-%d", time.gmtime(hour * 3600))] += n
    st.per_day = dict(sorted(per_day.items()))
    st.top = commands.most_common(count)
    programs: Counter[str] = Counter()
    for cmd, n in commands.items():
        head = cmd.split(None, 1)
        if head:
            programs[head[0]] += n
    st.top_programs = programs.most_common(count)
    from delta_core.memory.feedback import feedback_summary

    st.feedback = feedback_summary(store)
    return st
