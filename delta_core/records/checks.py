"""What a record must be before it is stored: the checks every way in (import, shell) runs.

A record that fails one is rejected whole with one line saying why; the others are stored.

- text fields are Unicode text that UTF-8 can encode: a lone surrogate (``"\\ud800"`` in
  JSON) is not, and would make every later reader of the store fail;
- ``start_ns`` lies between 1971 and 2200 (the codec stores int64 nanoseconds, which end in
  2262; earlier or later "times" are garbage);
- ``duration`` is a finite, non-negative number of seconds; ``exit`` fits 32 bits;
- ``command`` is at most :data:`MAX_COMMAND_BYTES` bytes of UTF-8. A longer one is not a
  command a person typed but a file pasted or piped into a history, and would cost the index
  and every reader for its whole length.
"""

from __future__ import annotations

from delta_core.records.record import Record

NS = 1_000_000_000
MIN_START_NS = 31_536_000 * NS  # 1971-01-01
MAX_START_NS = 7_258_118_400 * NS  # 2200-01-01
#: The documented cap on a command's length: 64 KiB of UTF-8.
MAX_COMMAND_BYTES = 64 * 1024
_FAST_LEN = MAX_COMMAND_BYTES // 4  # below this many characters the bytes fit for sure


def text_problem(name: str, value: str) -> str | None:
    """Why ``value`` is not storable text, or None."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"{name!r} holds a lone surrogate ({value[exc.start]!r}) at character {exc.start}"
    return None


def command_size_problem(command: str) -> str | None:
    """Why ``command`` is too long to store, or None."""
    if len(command) <= _FAST_LEN:
        return None
    size = len(command.encode("utf-8", "surrogatepass"))
    if size <= MAX_COMMAND_BYTES:
        return None
    return (
        f"'command' is {size:,} bytes, over the {MAX_COMMAND_BYTES:,}-byte cap "
        f"({size - MAX_COMMAND_BYTES:,} over)"
    )


def record_problem(rec: Record, *, texts: bool = True) -> str | None:
    """Why ``rec`` cannot be stored, or None. ``texts=False`` skips the surrogate checks
    (for text decoded from UTF-8 bytes, which cannot hold a surrogate)."""
    start = rec.start_ns
    if start and not MIN_START_NS <= start <= MAX_START_NS:
        return f"'timestamp' is out of range (1971 to 2200): {start / NS:.0f} s since 1970"
    dur = rec.duration
    if dur is not None and not 0.0 <= dur < float("inf"):
        return f"'duration' must be a finite number of seconds >= 0, got {dur!r}"
    ex = rec.exit
    if ex is not None and not -(2**31) <= ex < 2**31:
        return "'exit' is out of range"
    why = command_size_problem(rec.command)
    if why or not texts:
        return why
    # One test for all six fields (an import checks millions): their concatenation encodes
    # exactly when each of them does, and is ASCII exactly when each of them is.
    try:
        joined = "".join((rec.command, rec.cwd, rec.session, rec.host, rec.user, rec.shell))
    except TypeError:  # not text at all: the checks below say which field
        joined = None
    if (
        joined is not None
        and not rec.extra
        and (joined.isascii() or text_problem("", joined) is None)
    ):
        return None
    for name in ("command", "cwd", "session", "host", "user", "shell"):
        why = text_problem(name, getattr(rec, name))
        if why:
            return why
    for key, value in rec.extra.items():
        why = text_problem("extra", key) or text_problem(f"extra.{key}", value)
        if why:
            return why
    return None
