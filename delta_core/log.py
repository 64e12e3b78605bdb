"""One-line problem reports that never raise.

Delta must never break the shell, so code on the prompt path reports a failure here (one line
on stderr, once per distinct message per process, and appended to ``delta.log``) and carries
on.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_seen: set[str] = set()


def problem(message: str, log_file: Path | None = None, *, once: bool = True) -> None:
    """Report ``message`` in one line; swallow every error while doing so."""
    line = " ".join(str(message).split())
    try:
        if not once or line not in _seen:
            _seen.add(line)
            print(f"delta: {line}", file=sys.stderr, flush=True)
        if log_file is not None:
            # never through a link: one planted there would append to someone else's file
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n".encode())
            finally:
                os.close(fd)
    except Exception:
        pass
