"""What a training run tells its user: a progress bar on a terminal, log lines everywhere.

Only the master rank logs. Lines are plain text (``step 20/200 loss 3.4512 …``) or, with
``--log-format json``, one JSON object per line with an ``event`` key (``start``, ``step``,
``eval``, ``checkpoint``, ``done``) so a trainer that streams the logs of a container can show
its own progress. A rich progress bar is drawn only when stdout is a terminal (or
``--progress on``); log lines then print above it.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class TrainLogger:
    def __init__(self, *, enabled: bool, progress: str, fmt: str, total: int, start: int) -> None:
        self.enabled = enabled
        self.fmt = fmt
        self.total = total
        self.start = start
        want_bar = progress == "on" or (progress == "auto" and sys.stdout.isatty())
        self._progress = None
        self._task = None
        if enabled and want_bar:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )

    def __enter__(self) -> TrainLogger:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=self.total, completed=self.start, info=""
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _emit(self, event: str, text: str, fields: dict[str, Any]) -> None:
        if not self.enabled:
            return
        line = json.dumps({"event": event, **fields}, default=str) if self.fmt == "json" else text
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, flush=True)

    def advance(self, step: int, info: str = "") -> None:
        """Move the bar (no output without one); cheap enough for every step."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=step, info=info)

    def event(self, event: str, text: str, **fields: Any) -> None:
        self._emit(event, text, fields)

    def step(
        self, step: int, loss: float, lr: float, tokens_per_s: float, mfu: float | None, ms: float
    ) -> None:
        mfu_text = "-" if mfu is None else f"{100 * mfu:.1f}%"
        text = (
            f"step {step}/{self.total} loss {loss:.4f} lr {lr:.2e} "
            f"tok/s {tokens_per_s:,.0f} mfu {mfu_text} {ms:.1f}ms/step"
        )
        self.advance(step, f"loss {loss:.3f} · {tokens_per_s:,.0f} tok/s")
        self._emit(
            "step",
            text,
            {
                "step": step,
                "max_steps": self.total,
                "loss": loss,
                "lr": lr,
                "tokens_per_s": tokens_per_s,
                "mfu": mfu,
                "ms_per_step": ms,
            },
        )

    def kv(self, event: str, head: str, **fields: Any) -> None:
        """A line of ``head key value …`` (or the JSON object of ``fields``)."""
        text = " ".join([head, *(f"{k} {_fmt(v)}" for k, v in fields.items())])
        self._emit(event, text, fields)
