"""One-line problem reports that never raise, and third-party chatter kept off the terminal.

Delta must never break the shell, so code on the prompt path reports a failure here (one line
on stderr, once per distinct message per process, and appended to ``delta.log``) and carries
on. :func:`third_party_to_log` sends what libraries print through :mod:`logging` and
:mod:`warnings` (onnxruntime's quantizer, torch's exporter) to ``delta.log`` instead.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

_seen: set[str] = set()


def problem(message: str, log_file: Path | None = None, *, once: bool = True) -> None:
    """Report ``message`` in one line; swallow every error while doing so."""
    line = " ".join(str(message).split())
    try:
        if not once or line not in _seen:
            _seen.add(line)
            print(f"delta: {line}", file=sys.stderr, flush=True)
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
        # never through a link: one planted there would append to someone else's file
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n".encode())
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
