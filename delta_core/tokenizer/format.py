"""The token format the model learns from and is prompted with: sessions as one id stream.

A session is written as::

    <s>  [<cwd> ~/src/app]  <cmd> git status <exit> 0
         <cmd> git add -A <exit> 0
         [<cwd> ~/src/app/docs]  <cmd> make html <exit> 2
    </s>

- ``<cwd> path`` comes before a command only when the directory changed (and at the start
  of a session), so the model sees every move without paying for the path each time. A home
  directory prefix (``/home/ada``, ``/Users/ada``, ``/root``) is written as ``~``.
- ``<exit>`` ends every command, followed by its exit status as text (nothing when unknown):
  ``<exit>`` is therefore also the stop token when the model writes a command.
- Sessions are packed one after another; a trainer takes random windows of the stream.

:func:`format_context` builds the prompt for "the next command, given this session" with
exactly the ids training used, so what the model saw and what it is asked agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from delta_core.tokenizer.shell import ShellTokenizer

SESSION_FORMAT = "delta-session-v1"

#: Reserved ids every tokenizer must have (besides pad/unk/bos/eos). Four spares let the
#: format grow without retraining the tokenizer.
CONTROL_SYMBOLS = (
    "<cwd>",
    "<cmd>",
    "<exit>",
    "<sep>",
    "<reserved0>",
    "<reserved1>",
    "<reserved2>",
    "<reserved3>",
)

_HOME = re.compile(r"^(?:/home/[^/]+|/Users/[^/]+|/root)(?=/|$)")


class TurnLike(Protocol):
    """Anything with a command, the directory it ran in and its exit status (a Record)."""

    command: str
    cwd: str
    exit: int | None


@dataclass(frozen=True, slots=True)
class Turn:
    """One command of a session, as the model sees it."""

    command: str
    cwd: str = ""
    exit: int | None = None


def as_turn(item: TurnLike | str) -> Turn:
    """A :class:`Turn` from a record, a turn, or a bare command string."""
    if isinstance(item, str):
        return Turn(item)
    return Turn(item.command, item.cwd or "", item.exit)


#: Characters of one command (or of the typed text) the prompt encodes at most: the model
#: only ever sees the last block of ids, so a longer command (a pasted key, a 1 MB
#: ``echo``) is cut to its tail before it is tokenized, and costs the same as a short one.
CONTEXT_CHARS = 2048


def clip_turn(turn: Turn) -> Turn:
    """``turn`` with its command cut to its last :data:`CONTEXT_CHARS` characters."""
    if len(turn.command) <= CONTEXT_CHARS:
        return turn
    return Turn(turn.command[-CONTEXT_CHARS:], turn.cwd, turn.exit)


def split_typed(typed: str) -> tuple[str, str]:
    """``(head, tail)`` with ``head + tail == typed``: the model is prompted with ``tail``,
    at most about :data:`CONTEXT_CHARS` characters starting at a word where one starts."""
    if len(typed) <= CONTEXT_CHARS:
        return "", typed
    cut = len(typed) - CONTEXT_CHARS
    space = typed.find(" ", cut, len(typed) - 1)
    cut = space + 1 if space >= 0 else cut
    return typed[:cut], typed[cut:]


def display_cwd(cwd: str) -> str:
    """The directory as the model sees it: the home directory written as ``~``."""
    return _HOME.sub("~", cwd, count=1)


class SessionEncoder:
    """Encodes sessions into the stream format with one batched tokenizer call per batch."""

    def __init__(self, tok: ShellTokenizer) -> None:
        self.tok = tok
        s = tok.special_ids
        self.bos, self.eos = s["bos"], s["eos"]
        self.cwd, self.cmd, self.exit = s["cwd"], s["cmd"], s["exit"]
        self._exit_ids: dict[int, list[int]] = {}
        self._cwd_ids: dict[str, list[int]] = {}

    def _status(self, code: int | None) -> list[int]:
        if code is None:
            return [self.exit]
        if code not in self._exit_ids:
            self._exit_ids[code] = [self.exit, *self.tok.encode(str(code))]
        return self._exit_ids[code]

    def _cwds(self, paths: Iterable[str]) -> None:
        new = sorted({p for p in paths if p and p not in self._cwd_ids})
        for p, ids in zip(new, self.tok.encode_batch(new), strict=True):
            self._cwd_ids[p] = [self.cwd, *ids]
        if len(self._cwd_ids) > 100_000:
            self._cwd_ids.clear()

    def turn_ids(
        self, turns: Sequence[Turn], command_ids: Sequence[list[int]], prev_cwd: str | None
    ) -> list[list[int]]:
        """The ids of each turn (cwd part, command, exit status), given the cwd before them."""
        self._cwds(display_cwd(t.cwd) for t in turns)
        out = []
        for t, ids in zip(turns, command_ids, strict=True):
            cwd = display_cwd(t.cwd)
            part = self._cwd_ids[cwd] if (cwd and cwd != prev_cwd) else []
            prev_cwd = cwd or prev_cwd
            out.append([*part, self.cmd, *ids, *self._status(t.exit)])
        return out

    def encode_sessions(self, sessions: Sequence[Sequence[TurnLike | str]]) -> np.ndarray:
        """The packed stream of ``sessions`` (``<s>`` … ``</s>`` each), as int64 ids."""
        import numpy as np  # the shell's suggester loads this module: numpy only when packing

        turned = [[as_turn(x) for x in s] for s in sessions]
        cmd_ids = self.tok.encode_batch([t.command for s in turned for t in s])
        parts: list[int] = []
        k = 0
        for s in turned:
            parts.append(self.bos)
            for ids in self.turn_ids(s, cmd_ids[k : k + len(s)], None):
                parts.extend(ids)
            k += len(s)
            parts.append(self.eos)
        return np.asarray(parts, dtype=np.int64)


def session_ids(tok: ShellTokenizer, turns: Sequence[TurnLike | str]) -> list[int]:
    """The ids of one whole session, exactly as a dataset stores it."""
    return SessionEncoder(tok).encode_sessions([turns]).tolist()


def format_context(
    tok: ShellTokenizer,
    history: Sequence[TurnLike | str],
    cwd: str = "",
    *,
    max_tokens: int | None = None,
    max_commands: int | None = None,
    prefix: str = "",
) -> list[int]:
    """The prompt for the next command: the session so far, the current cwd, then ``<cmd>``.

    ``history`` holds the session's earlier commands, oldest first (records or turns).
    For a complete session, ``format_context(tok, s[:k], s[k].cwd)`` followed by the ids
    of ``s[k].command`` and ``<exit>`` is a prefix of :func:`session_ids` of ``s``.

    ``max_tokens`` keeps the prompt short by dropping whole commands from the start (the
    ``<s>`` goes too, as in a training window that starts mid-session); ``max_commands``
    keeps at most that many previous commands the same way. ``prefix``: what
    the user has typed; its settled ids are appended (see
    :meth:`~delta_core.tokenizer.shell.ShellTokenizer.encode_prefix`: the unfinished last
    word is not included and must be matched while generating).
    """
    enc = SessionEncoder(tok)
    turns = [as_turn(h) for h in history]
    dropped = max(0, len(turns) - max_commands) if max_commands is not None else 0
    turns = turns[dropped:]
    cmd_ids = tok.encode_batch([t.command for t in turns])
    per_turn = enc.turn_ids(turns, cmd_ids, None)
    last_cwd = next((display_cwd(t.cwd) for t in reversed(turns) if t.cwd), None)
    here = display_cwd(cwd)
    enc._cwds([here])
    tail = [*(enc._cwd_ids[here] if here and here != last_cwd else []), enc.cmd]
    if prefix:
        tail += tok.encode_prefix(prefix)[0]
    # Commands left out at the start take the <s> with them; the first command kept
    # states its directory, as at a session start (turn_ids above started from None).
    start = 0
    if max_tokens is not None:
        total = (0 if dropped else 1) + sum(map(len, per_turn)) + len(tail)
        while start < len(turns) and total > max_tokens:
            total -= len(per_turn[start])
            start += 1
        if start:
            per_turn[start:] = enc.turn_ids(turns[start:], cmd_ids[start:], None)
    ids = [] if (start or dropped) else [enc.bos]
    for part in per_turn[start:]:
        ids.extend(part)
    ids.extend(tail)
    if max_tokens is not None and len(ids) > max_tokens:
        ids = ids[len(ids) - max_tokens :]
    return ids


def command_stop_ids(tok: ShellTokenizer) -> set[int]:
    """Ids that end a generated command: ``<exit>``, and ``</s>``/``<s>`` for safety."""
    s = tok.special_ids
    return {s["exit"], s["eos"], s["bos"], s["cmd"], s["cwd"]}


def render(tok: ShellTokenizer, ids: Sequence[int]) -> str:
    """A readable view of an id stream: reserved ids by name, the rest as text."""
    return "".join(text for _, text in tok.spans(ids))


def describe_format() -> dict[str, Any]:
    """What a dataset's ``meta.json`` records about this format."""
    return {"name": SESSION_FORMAT, "control_symbols": list(CONTROL_SYMBOLS)}
