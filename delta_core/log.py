"""One-line problem reports that never raise, and third-party chatter kept off the terminal.

Delta must never break the shell, so code on the prompt path reports a failure here (one line
on stderr, once per distinct message per process, and appended to ``delta.log``) and carries
on. :func:`third_party_to_log` sends what libraries print through :mod:`logging` and
:mod:`warnings` (onnxruntime's quantizer, torch's exporter) to ``delta.log`` instead.

``delta.log`` is rate-limited per process: the same line is written at most once per
:data:`REPEAT_S` (its next appearance says how many repeats were left out), and at most
:data:`MAX_LINES_PER_MIN` lines of any kind a minute (then one line says how many were
dropped). A fault that repeats in a loop, such as a server out of file descriptors, costs a
few lines, not the disk.

One fault, one line: a fault seen through several paths at once (the recorder, the
suggesters, the feedback, the group fsync all meeting a corrupt index or a vanished home) is
printed once. Within :data:`FAULT_S` of a printed line, a line of the same ``fault`` kind
(``"memory"``: anything that failed reading or writing the store), or naming an LMDB error
code (``MDB_BAD_TXN``), errno (``[Errno 20]``) or LMDB's closed-object error that a printed
line named, goes to the log only.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

#: Seconds during which the same line is not written to the log again (only counted).
REPEAT_S = 60.0
#: Lines one process writes to the log in a minute at most.
MAX_LINES_PER_MIN = 120
#: Seconds during which further lines naming the same fault are not printed.
FAULT_S = 60.0
_FAULT = re.compile(r"\bMDB_[A-Z_]+\b|\[Errno \d+\]|Attempt to operate on closed/deleted/dropped")

_seen: set[str] = set()
_written: dict[str, list[float]] = {}  # line -> [when written (monotonic), repeats since]
_minute = [-60.0, 0.0, 0.0]  # start of the current minute, lines written, lines dropped
_log_lock = threading.Lock()
_faults: dict[str, float] = {}  # fault -> when first printed (monotonic)


def _same_fault_shown(line: str, fault: str | None) -> bool:
    """Whether ``line`` is a fault printed lately (and note its marks if not)."""
    marks = ([f"kind:{fault}"] if fault else []) + _FAULT.findall(line)
    if not marks:
        return False
    now = time.monotonic()
    with _log_lock:
        if any(now - _faults.get(m, -FAULT_S) < FAULT_S for m in marks):
            return True
        for m in marks:
            _faults[m] = now
        return False


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


def problem(
    message: str, log_file: Path | None = None, *, once: bool = True, fault: str | None = None
) -> None:
    """Report ``message`` in one line; swallow every error while doing so.

    ``fault``: the kind of fault (``"memory"``), so that one fault met by several parts of
    Delta at once is printed once (see the module's docstring).
    """
    line = " ".join(str(message).split())
    try:
        if (not once or line not in _seen) and not _same_fault_shown(line, fault):
            print(f"delta: {line}", file=sys.stderr, flush=True)
        _seen.add(line)
    except Exception:
        pass
    to_log(line, log_file)


def plain(exc: BaseException) -> str:
    """An exception as a user reads it: its message on one line, never its class name."""
    text = " ".join(str(exc).split())
    for cls in type(exc).__mro__:  # "ValueError: ..." carried over from a wrapped error
        text = text.removeprefix(f"{cls.__name__}: ")
    return text or "an unexpected error"


def traceback_to_log(exc: BaseException, log_file: Path | None) -> None:
    """The full traceback of ``exc`` in ``delta.log``, for whoever mends the bug."""
    import traceback

    if log_file is None:
        return
    text = "".join(traceback.format_exception(exc)).rstrip("\n")
    try:
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n".encode())
        finally:
            os.close(fd)
    except Exception:
        pass


def to_log(message: str, log_file: Path | None) -> None:
    """Append ``message`` as one line to ``delta.log`` only (nothing on the terminal)."""
    if log_file is None:
        return
    line = " ".join(str(message).split())
    try:
        text = _for_log(line)  # rate-limited: a fault in a loop costs a few lines
        if text is None:
            return
        # never through a link: one planted there would append to someone else's file
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except Exception:
        pass


def _log_handler(log_file: Path | None) -> Any:
    import logging  # not at import: the shell loads this module and rarely needs logging

    class ToLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with suppress(Exception):
                to_log(f"{record.name}: {record.getMessage()}", log_file)

    return ToLog(logging.INFO)


@contextmanager
def third_party_to_log(log_file: Path | None) -> Iterator[None]:
    """While inside: records of the root logger and Python warnings go to ``log_file``
    (``delta.log``; None: nowhere), not to the terminal.

    A library that calls ``logging.warning`` with no handler set up would otherwise install a
    stderr handler for the rest of the process (``logging.basicConfig``).
    """
    import logging
    import warnings

    root = logging.getLogger()
    handler = _log_handler(log_file)
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        to_log(f"{category.__name__}: {message}", log_file)

    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved_show
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
