"""One-line problem reports that never raise.

Delta must never break the shell, so code on the prompt path reports a failure here (one line
on stderr, once per distinct message per process, and appended to ``delta.log``) and carries
on.

``delta.log`` is rate-limited per process: the same line is written at most once per
:data:`REPEAT_S` (its next appearance says how many repeats were left out), and at most
:data:`MAX_LINES_PER_MIN` lines of any kind a minute (then one line says how many were
dropped). A fault that repeats in a loop, such as a server out of file descriptors, costs a
few lines, not the disk.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

#: Seconds during which the same line is not written to the log again (only counted).
REPEAT_S = 60.0
#: Lines one process writes to the log in a minute at most.
MAX_LINES_PER_MIN = 120

_seen: set[str] = set()
_written: dict[str, list[float]] = {}  # line -> [when written (monotonic), repeats since]
_minute = [-60.0, 0.0, 0.0]  # start of the current minute, lines written, lines dropped
_log_lock = threading.Lock()


def _for_log(line: str) -> str | None:
    """What to append to the log for ``line`` now, or None to leave it out (counted)."""
    now = time.monotonic()
    with _log_lock:
        seen = _written.get(line)
        if seen is not None and now - seen[0] < REPEAT_S:
            seen[1] += 1
            return None
        notes = []
        if now - _minute[0] >= 60.0:
            if _minute[2]:
                notes.append(f"({int(_minute[2])} more problems in a minute were not logged)")
            _minute[:] = [now, 0.0, 0.0]
        if _minute[1] >= MAX_LINES_PER_MIN:
            _minute[2] += 1
            return None
        _minute[1] += 1
        if len(_written) > 4096:
            _written.clear()
        _written[line] = [now, 0.0]
        if seen is not None and seen[1]:
            line = f"{line} (and {int(seen[1])} times more since it was last logged)"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        return "".join(f"{stamp} {text}\n" for text in [*notes, line])


def problem(message: str, log_file: Path | None = None, *, once: bool = True) -> None:
    """Report ``message`` in one line; swallow every error while doing so."""
    line = " ".join(str(message).split())
    try:
        if not once or line not in _seen:
            _seen.add(line)
            print(f"delta: {line}", file=sys.stderr, flush=True)
        text = _for_log(line) if log_file is not None else None
        if text is not None:
            # never through a link: one planted there would append to someone else's file
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    except Exception:
        pass
