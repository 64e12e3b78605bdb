"""Continuous batching: every running request advances one token step per forward pass.

One thread owns the model. Requests queue up from any thread (:meth:`Scheduler.submit`);
between two forward passes the scheduler admits new ones, drops the cancelled and the late
(answering them), and runs one step for every running request together: each request is a
decoding job (:mod:`delta_core.inference.decode`) whose rows join the padded batch, so
requests join and leave at token granularity. Rows that still feed a long prompt run in a
step of their own, so a new shell's prefill does not make everyone else's step long.

``batching=False`` serves one request at a time (the benchmarks' baseline). A new model
(:meth:`swap`) takes the requests that arrive after it; running ones finish on the old one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from delta_core.inference.arena import Arena
from delta_core.inference.cache import forward_rows
from delta_core.tokenizer.format import Turn

#: Rows feeding more ids than this (a prompt) get a forward pass of their own (fewer
#: when the batch is busy: see ``_step``).
PREFILL = 16
#: Ids fed per step across the batch that drafts may fill: one row drafts up to this many,
#: sixteen rows draft none (they gain from sharing the pass instead).
DRAFT_BUDGET = 16


@dataclass
class Request:
    session: str
    prefix: str
    cwd: str
    history: list[Turn]
    reply: Callable[[dict[str, Any]], None]
    k: int = 1
    drafts: list[str] = field(default_factory=list)
    deadline: float = 0.0
    start: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    job: Any = None
    completer: Any = None
    version: str = ""
    error: str = ""


class Scheduler:
    def __init__(self, completer: Any, version: str, batching: bool = True, max_batch: int = 64):
        self.completer, self.version = completer, version
        self.batching = batching
        self.max_batch = max_batch
        self.queue: deque[Request] = deque()
        self.running: list[Request] = []
        self._by_session: dict[str, Request] = {}
        self._cv = threading.Condition()
        self._stopping = False
        self.latencies: deque[float] = deque(maxlen=2000)
        self.counts: dict[str, float] = dict.fromkeys(
            ("served", "cancelled", "timeouts", "errors", "steps", "rows"), 0
        )
        for kind in ("batch", "prompt"):  # where the scheduler's time goes
            self.counts |= {f"{kind}_steps": 0, f"{kind}_forward_s": 0.0, f"{kind}_choose_s": 0.0}
        self._arenas: dict[int, Arena] = {}  # backend id -> the batch's cache slots
        self.thread = threading.Thread(target=self._loop, name="delta-scheduler", daemon=True)

    def start(self) -> Scheduler:
        self.thread.start()
        return self

    # --- any thread ------------------------------------------------------------------
    def submit(self, req: Request) -> None:
        with self._cv:
            if self._stopping:
                req.reply({"ok": False, "error": "the server is shutting down"})
                return
            old = self._by_session.get(req.session)
            if old is not None:
                old.cancelled = True  # a new keystroke of the same shell supersedes it
            self._by_session[req.session] = req
            self.queue.append(req)
            self._cv.notify()

    def cancel(self, req: Request) -> None:
        req.cancelled = True

    def swap(self, completer: Any, version: str) -> None:
        with self._cv:
            self.completer, self.version = completer, version
            # the old model's slots go with its last requests (they keep views of them)
            live = {id(r.completer.engine.backend) for r in self.running}
            live.add(id(completer.engine.backend))
            self._arenas = {k: a for k, a in self._arenas.items() if k in live}

    def stop(self, grace: float = 2.0) -> None:
        """Finish running requests (up to ``grace`` seconds), refuse the queued ones."""
        with self._cv:
            self._stopping = True
            queued, self.queue = list(self.queue), deque()
            self._cv.notify()
        for req in queued:
            req.reply({"ok": False, "error": "the server is shutting down"})
        if self.thread.is_alive():
            self.thread.join(grace)

    def snapshot(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None

        stats = self.completer.engine.stats
        steps = max(self.counts["steps"], 1)
        return {
            "model": self.version,
            "queue": len(self.queue),
            "active": len(self.running),
            **{k: round(v, 3) for k, v in self.counts.items()},
            "mean_batch": round(self.counts["rows"] / steps, 2),
            "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)},
            "draft_acceptance": round(stats.acceptance, 3),
            "replayed_ids": stats.replayed,  # taken from kept continuations, no forward
            "batching": self.batching,
        }

    # --- the scheduler thread ----------------------------------------------------------
    def _answer(self, req: Request, msg: dict[str, Any]) -> None:
        with self._cv:
            if self._by_session.get(req.session) is req:
                del self._by_session[req.session]
        ms = (time.monotonic() - req.start) * 1000
        if msg.get("ok"):
            self.latencies.append(ms)
            self.counts["served"] += 1
        try:
            req.reply({**msg, "ms": round(ms, 2)})
        except Exception:
            self.counts["errors"] += 1  # a reply to a connection that went away

    def _admit(self) -> None:
        with self._cv:
            while not self.queue and not self.running and not self._stopping:
                self._cv.wait()
            room = (self.max_batch if self.batching else 1) - len(self.running)
            new = []
            while self.queue and room > 0:
                new.append(self.queue.popleft())
                room -= 1
            completer, version = self.completer, self.version
        for req in new:
            if req.cancelled:
                self.counts["cancelled"] += 1
                self._answer(req, {"ok": False, "error": "cancelled"})
                continue
            if req.deadline and time.monotonic() > req.deadline:
                self.counts["timeouts"] += 1
                self._answer(req, {"ok": False, "error": "timeout"})
                continue
            try:
                req.completer = completer
                req.job = completer.job(
                    req.history,
                    req.cwd,
                    req.prefix,
                    key=req.session,
                    drafts=req.drafts,
                    beams=req.k,
                )
                req.version = version
            except Exception as exc:
                self.counts["errors"] += 1
                self._answer(req, {"ok": False, "error": f"bad request: {exc}"})
                continue
            self.running.append(req)

    def _retire(self) -> None:
        now = time.monotonic()
        keep = []
        for req in self.running:
            if req.error:
                self.counts["errors"] += 1
                self._answer(req, {"ok": False, "error": req.error})
            elif req.cancelled:
                self.counts["cancelled"] += 1
                req.job.cancel()
                self._answer(req, {"ok": False, "error": "cancelled"})
            elif req.deadline and now > req.deadline:
                self.counts["timeouts"] += 1
                req.job.cancel()
                self._answer(req, {"ok": False, "error": "timeout"})
            elif req.job.done:
                req.completer.engine.stats.add(req.job.stats)
                found = req.completer.finish(req.job, req.prefix, req.session)
                suggestions = [{"command": t, "score": round(p, 6)} for t, p in found[: req.k]]
                self._answer(req, {"ok": True, "suggestions": suggestions, "model": req.version})
            else:
                keep.append(req)
        self.running = keep

    def _step(self) -> None:
        cap = max(0, DRAFT_BUDGET // len(self.running) - 1)
        for req in self.running:
            req.job.draft_cap = cap
        decode, prompt, alone = [], [], []
        for req in self.running:
            rows = req.job.rows()
            if not rows:
                continue
            # every row of a step is padded to its longest feed, so rows feeding a few ids
            # of a new prompt share a step of their own, and a long prompt runs alone
            longest = max(len(ids) for _, ids in rows)
            if longest <= cap + 1:
                decode.append((req, rows))
            elif longest <= PREFILL:
                prompt.append((req, rows))
            else:
                alone.append((req, rows))
        batches: list[tuple[list, Arena | None, str]] = [([x], None, "prompt") for x in alone]
        # requests on different models (during a swap) never share a forward pass
        for group, slotted in ((prompt, False), (decode, True)):
            by_backend: dict[int, list] = {}
            for req, rows in group:
                by_backend.setdefault(id(req.completer.engine.backend), []).append((req, rows))
            for key, part in by_backend.items():
                arena = None
                if slotted and sum(len(rows) for _, rows in part) > 1:  # one row: its own cache
                    if key not in self._arenas:
                        self._arenas[key] = Arena(part[0][0].completer.engine.shape)
                    arena = self._arenas[key]
                batches.append((part, arena, "batch" if slotted else "prompt"))
        for part, arena, kind in batches:
            flat = [r for _, rows in part for r in rows]
            t0 = time.perf_counter()
            try:
                out = forward_rows(part[0][0].completer.engine.backend, flat, arena)
            except Exception as exc:
                for req, _ in part:
                    req.job.cancel()
                    req.error = f"inference failed: {exc}"
                continue
            t1 = time.perf_counter()
            i = 0
            for req, rows in part:
                req.job.advance(out[i : i + len(rows)])
                i += len(rows)
            self.counts["steps"] += 1
            self.counts["rows"] += len(flat)
            self.counts[f"{kind}_steps"] += 1
            self.counts[f"{kind}_forward_s"] += t1 - t0
            self.counts[f"{kind}_choose_s"] += time.perf_counter() - t1

    def _loop(self) -> None:
        while True:
            self._admit()
            if self._stopping and not self.running:
                return
            self._retire()
            if self.running:
                self._step()
                self._retire()
