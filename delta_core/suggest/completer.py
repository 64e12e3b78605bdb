"""Model completions as text: the session context in the training format, the typed prefix
handled exactly, the answer decoded back to a command (the engine does the ids).

What was typed is split by the tokenizer into settled ids (every word before the last space)
and a pending tail (the last, maybe unfinished, word). The prompt is the session context in
the format training used (:func:`delta_core.tokenizer.format.format_context`) plus the
settled ids; the decoder must then spell the tail byte for byte before it may continue
(token healing by constraint, :class:`~delta_core.inference.constraint.TokenRule`). So a
completion always extends exactly what was typed — and it is checked once more before it
is returned.

Decoding runs in :class:`~delta_core.inference.engine.Engine` (PyTorch or ONNX Runtime),
greedy and speculative by default: drafts come from the prompt itself (the session's
commands), from the history commands the caller passes and from the previous completion.
The server (:mod:`delta_core.serve`) uses :meth:`ModelCompleter.job` and
:meth:`ModelCompleter.finish` to run the same decoding inside its batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delta_core.suggest.engine import MODEL_WEIGHT
from delta_core.tokenizer.format import (
    CONTEXT_CHARS,
    Turn,
    as_turn,
    clip_turn,
    command_stop_ids,
    format_context,
    split_typed,
)
from delta_core.tokenizer.lossless import escape

#: Tokens a completion may add after the typed text.
MAX_NEW = 24
#: History candidates the model scores beside its own completion (0: none).
RERANK = 0
#: Joint scores kept (context, command) -> log-probability.
JOINT_CACHE = 4096


def token_bytes(tok: Any) -> list[bytes | None]:
    """Each id's text as bytes (spaces as spaces); None for reserved and unknown ids."""
    unk = tok.special_ids.get("unk")
    out: list[bytes | None] = []
    for i in range(tok.vocab_size):
        if tok.is_special(i) or i == unk:
            out.append(None)
        elif tok.is_byte(i):
            out.append(bytes([int(tok.piece(i)[3:5], 16)]))
        else:
            out.append(tok.piece(i).replace("\u2581", " ").encode("utf-8"))
    return out


def load_tokenizer_dir(directory: Path, plugins: dict[str, Any]) -> Any:
    """The tokenizer saved in ``directory`` (a model's ``tokenizer/``), loaded by its plugin."""
    from delta_core.tokenizer.versions import TokenizerError, read_config

    config = read_config(directory)
    plugin = plugins.get(config.get("name", ""))
    if plugin is None:
        raise TokenizerError(f"the tokenizer in {directory} needs plugin {config.get('name')!r}")
    tok = plugin.load(directory)
    tok.version = config.get("version", "")
    tok.config = config
    return tok


class ModelCompleter:
    """A model and its tokenizer, answering "what comes next" for a session and a prefix.

    ``model`` is a GPT (run with PyTorch on ``device``) or an inference backend.
    """

    def __init__(self, model: Any, tok: Any, device: str = "cpu", speculate: bool = True):
        from delta_core.inference.constraint import TokenRule
        from delta_core.inference.engine import Engine

        if not hasattr(model, "step"):
            from delta_core.inference.backends import TorchBackend

            model = TorchBackend(model, device)
        self.tok = tok
        self.engine = Engine(model, speculate=speculate)
        self.stop = command_stop_ids(tok)
        pieces = token_bytes(tok)
        self.rule = TokenRule(pieces, self.stop)
        #: characters a completion can add to what was typed at most (``MAX_NEW`` tokens)
        self.reach = MAX_NEW * max((len(b) for b in pieces if b), default=1)
        self.exit_id = tok.special_ids["exit"]
        self.budget = self.engine.shape.block_size - MAX_NEW
        self._anchors: dict[str, int] = {}  # key -> first turn of its history in the prompt
        self._draft_ids: dict[str, list[int]] = {}
        self._last: dict[str, list[int]] = {}  # key -> ids of its previous completion
        #: its weight against history in :func:`delta_core.suggest.engine.combine` (fitted per model)
        self.model_weight = MODEL_WEIGHT
        #: its weight once something is typed (fitted apart: :func:`~delta_core.suggest.fit.fit_typed_weight`)
        self.typed_weight = MODEL_WEIGHT
        #: how many of history's candidates :meth:`rescore` gives a model probability
        self.rerank = RERANK
        self._joint: dict[tuple[Any, ...], float] = {}

    @classmethod
    def from_dir(
        cls,
        model_dir: Path | str,
        plugins: dict[str, Any],
        device: str = "cpu",
        backend: str = "auto",
    ):
        """Load ``models/<version>/`` (weights, config, the tokenizer copied with them and the
        mixture weight fitted for it, :mod:`delta_core.suggest.fit`).

        ``backend``: ``torch``, ``onnx`` (exported now if missing), ``onnx-int8``, or ``auto``
        (ONNX Runtime when the model was exported and it is installed, else PyTorch).
        """
        from delta_core.inference.backends import load_backend
        from delta_core.inference.onnx_file import ONNX_FILE

        model_dir = Path(model_dir)
        from delta_core.suggest.fit import load_typed_weight, model_weight_for

        tok = load_tokenizer_dir(model_dir / "tokenizer", plugins)
        if backend == "auto" and not (model_dir / ONNX_FILE).exists():
            backend = "torch"
        completer = cls(load_backend(model_dir, backend, device), tok, device)
        completer.model_weight = model_weight_for(model_dir)
        typed = load_typed_weight(model_dir)
        completer.typed_weight = completer.model_weight if typed is None else typed
        return completer

    def prompt(
        self, history: Sequence[Turn], cwd: str, typed: str = "", key: str = ""
    ) -> list[int]:
        """The prompt ids; the window start moves by half a window at a time so consecutive
        prompts (of the same ``key``, a shell) share a long prefix and the KV cache is reused."""
        anchor = self._anchors.get(key, 0)
        if anchor > len(history):
            anchor = 0
        typed = split_typed(typed)[1]
        while True:
            turns = [clip_turn(as_turn(t)) for t in history[anchor:]]
            ids = format_context(self.tok, turns, cwd, prefix=typed)
            left = len(history) - anchor
            if len(ids) <= self.budget or left == 0:
                break
            anchor += max(1, left // 2)
        if len(self._anchors) > 256:
            self._anchors.clear()
        self._anchors[key] = anchor
        if len(ids) > self.budget:
            ids = ids[-self.budget :]
        return ids

    def _extra(self, drafts: Sequence[str], key: str) -> list[list[int]]:
        out = [self._last[key]] if key in self._last else []
        for cmd in drafts:
            if len(cmd) > CONTEXT_CHARS:  # a draft is a few tokens ahead: not a 1 MB one
                continue
            ids = self._draft_ids.get(cmd)
            if ids is None:
                if len(self._draft_ids) > 1024:
                    self._draft_ids.clear()
                ids = self._draft_ids[cmd] = [*self.tok.encode(cmd), self.exit_id]
            out.append(ids)
        return out

    def job(
        self,
        history: Sequence[Turn],
        cwd: str,
        typed: str,
        *,
        key: str = "",
        drafts: Sequence[str] = (),
        beams: int = 1,
        speculate: bool = True,
    ):
        """A decoding job for ``typed`` (greedy, or beam search when ``beams`` > 1)."""
        from delta_core.inference.decode import BeamJob

        _, tail = self.tok.encode_prefix(split_typed(typed)[1])
        pending = escape(tail).encode("utf-8", "surrogatepass")
        ids = self.prompt(history, cwd, typed, key)
        if beams > 1:
            return BeamJob(self.engine.sequence(key), ids, self.rule, pending, MAX_NEW, beams)
        extra = self._extra(drafts, key)
        return self.engine.greedy_job(ids, self.rule, pending, MAX_NEW, key, extra, speculate)

    def finish(self, job: Any, typed: str, key: str = "") -> list[tuple[str, float]]:
        """The completions of a finished job as ``(text, probability)``, best first."""
        found = job.result
        found = [] if found is None else found if isinstance(found, list) else [found]
        head, rest = split_typed(typed)
        settled = self.tok.encode_prefix(rest)[0]
        out = []
        for c in found:
            text = head + self.tok.decode(settled + c.ids)
            if text.startswith(typed) and text != typed and "\n" not in text:
                out.append((text, math.exp(c.logprob)))
        if found and not isinstance(job.result, list):
            self._last[key] = [*found[0].ids, self.exit_id]
        return out

    def complete(
        self, history: Sequence[Turn], cwd: str, typed: str, drafts: Sequence[str] = ()
    ) -> tuple[str, float] | None:
        """The greedy completion of ``typed`` and its probability, or None."""
        job = self.job(history, cwd, typed, drafts=drafts)
        self.engine.run(job)
        got = self.finish(job, typed)
        return got[0] if got else None

    def complete_k(
        self, history: Sequence[Turn], cwd: str, typed: str, k: int
    ) -> list[tuple[str, float]]:
        """Up to ``k`` completions by beam search, most probable first."""
        job = self.job(history, cwd, typed, beams=max(2, k))
        self.engine.run(job)
        return self.finish(job, typed)[:k]

    def joint(self, history: Sequence[Turn], cwd: str, command: str) -> float:
        """log P(``command`` and its end | the session): kept per context and command, as it
        does not change while the user types."""
        last = history[-1] if history else None
        key = (len(history), last.command if last else "", cwd, command)
        got = self._joint.get(key)
        if got is None:
            if len(self._joint) >= JOINT_CACHE:
                self._joint.clear()
            got = self._joint[key] = -self.nll(history, cwd, command)[0]
        return got

    def rescore(
        self,
        history: Sequence[Turn],
        cwd: str,
        typed: str,
        completion: tuple[str, float] | None,
        candidates: Sequence[str],
    ) -> list[tuple[str, float]]:
        """The model's completion and history's first :attr:`rerank` candidates, each with a
        model probability on the completion's scale.

        Commands that start with the same typed text share the normaliser of "given what was
        typed", so a candidate's probability is the completion's times the ratio of their
        whole-command probabilities: ``p_c = p_g * P(c) / P(g)``. The model thereby reranks
        history's own candidates (a command it knows is likely after this one rises, one it
        finds odd here sinks) instead of only proposing its own. Without a completion there
        is no scale: nothing is rescored.
        """
        if completion is None:
            return []
        out = [completion]
        if self.rerank <= 0 or not candidates:
            return out
        text, p_g = completion
        if p_g <= 0:
            return out
        base = self.joint(history, cwd, text)
        for cmd in candidates[: self.rerank]:
            if cmd == text or not cmd.startswith(typed) or len(cmd) > CONTEXT_CHARS:
                continue
            delta = min(30.0, self.joint(history, cwd, cmd) - base)
            out.append((cmd, p_g * math.exp(delta)))
        total = sum(p for _, p in out)
        if total > 1.0:
            out = [(c, p / total) for c, p in out]
        return out

    def nll(self, history: Sequence[Turn], cwd: str, command: str) -> tuple[float, int]:
        """Negative log-likelihood of ``command`` (and its end) after the session, and tokens."""
        target = [*self.tok.encode(command), self.exit_id]  # every token: see Engine.score
        return -self.engine.score(self.prompt(history, cwd), target), len(target)
